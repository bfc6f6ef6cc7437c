"""Generic signed-webhook channel (Standard Webhooks) and outbound event subscriptions."""
