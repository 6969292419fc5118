"""Streams: the Faust app — warehouse sink, and the real-time domains that turn behaviour into pushes and rewards."""
