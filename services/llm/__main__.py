from shared.runtime import run_until_signalled

# Guarded, and the app imported only here: a spawned child process
# (such as the NER model process) imports the main module again and must not start an app.
if __name__ == "__main__":
    from services.llm.app import app

    run_until_signalled(app)
