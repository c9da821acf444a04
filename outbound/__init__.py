"""What every process does the same way when it calls another system (`retry.py`)."""
