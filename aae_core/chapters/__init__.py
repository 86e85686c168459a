"""What the chapters need beyond the method itself: figures, explorers and the in-page trainer."""
