"""`python -m customer_texts [path]`: check a texts file (default: bot/texts.yml)."""

import sys

from customer_texts import TextsError, load_texts, texts_path

target = sys.argv[1] if len(sys.argv) > 1 else texts_path()
try:
    load_texts(target)
except TextsError as error:
    sys.exit(str(error))
print(f"{target}: OK")
