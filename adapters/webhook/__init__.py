"""Generic signed-webhook channel (Standard Webhooks), outbound event subscriptions and Chatwoot's webhooks."""
