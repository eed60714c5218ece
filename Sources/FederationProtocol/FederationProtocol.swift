// Generated protocol code and conversions land here; see Protocols/PROTOCOL.md.
