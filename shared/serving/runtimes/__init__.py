"""MLServer runtimes of the project, loaded inside the model server (its own venv)."""
