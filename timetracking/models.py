# Filled by its own issue; the app exists so that the project's shape is visible from the start.
