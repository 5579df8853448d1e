"""Entry point of the web app, and of the Hugging Face Space (`app_file: app.py`).

`python app.py` opens the index (building it from the collection when it is missing or
stale) and serves the Gradio app on GRADIO_SERVER_NAME:GRADIO_SERVER_PORT (default
127.0.0.1:7860).  Every setting comes from the environment (ASSISTANT_*, OPENAI_*); see
the README.  `paper-assistant serve` does the same.
"""

from ui import main

if __name__ == "__main__":
    main()
