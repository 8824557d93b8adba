"""Learning: hindsight relabeling of the control head, source training, adaptation."""
