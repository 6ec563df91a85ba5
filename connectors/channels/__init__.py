"""Outside channels the feedback loop delivers events to: a signed webhook, RabbitMQ, Redis Streams and
e-mail over SMTP, plugins behind one interface (:class:`connectors.channels.base.Channel`)."""
