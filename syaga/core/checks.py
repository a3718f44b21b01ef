"""System checks of the project's own settings, shown by ``manage.py check`` (``--deploy`` for production)."""

from django.conf import settings
from django.core.checks import Tags, register
from django.core.checks import Warning as CheckWarning

SQLITE_ENGINE = "django.db.backends.sqlite3"


@register(Tags.database, deploy=True)
def sqlite_in_production(app_configs, **kwargs) -> list[CheckWarning]:
    """Production on the embedded SQLite works for one machine, but the operator must know it is there."""
    return [
        CheckWarning(
            f"Cette installation tourne sur SQLite (base « {alias} » : {db['NAME']}), "
            "la base embarquée par défaut quand DATABASE_URL n'est pas défini.",
            hint=(
                "SQLite tient un serveur web et un worker django-q2 sur une seule machine ; sauvegardez ce "
                "fichier avec `sqlite3 … .backup`, jamais par simple copie. Pour plusieurs workers ou "
                "machines, utilisez PostgreSQL : DATABASE_URL=postgres://utilisateur@hôte:5432/base "
                "(voir .env.example)."
            ),
            id="syaga.W001",
        )
        for alias, db in settings.DATABASES.items()
        if db["ENGINE"] == SQLITE_ENGINE
    ]
