"""What WhatsApp, Messenger and Instagram share: Meta's Graph webhook (the verification handshake, the
X-Hub-Signature-256 check, the batch of entries answered first and worked through the inbound journal), the Graph
API client, and the 24-hour customer-service window. A library for the channel packages, not a channel itself."""
