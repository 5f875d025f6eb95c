import os

# Fixed before deeplink is imported anywhere in the test session.
os.environ.setdefault("DEEPLINK_FALLBACK", "warn")
