"""The SMS channel: gateway (console, Twilio), durable sending, inbound SMS, status callbacks."""
