"""Deploy notifications: which URLs a project tells about its builds and deploys, the
messages' shapes (JSON signed with the notification's secret, Slack, Discord), and the
delivery queue that sends them with retries, off the build's path.

`event_observer` turns the engine's events into queued deliveries, `delivery_worker` sends
them, `notifications` is what the API calls, `formats` and `signing` make the bytes sent, and
`targets` keeps a user's URL away from the host's own network.
"""
