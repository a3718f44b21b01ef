"""Database triggers (PostgreSQL) that keep an issued document frozen whatever path a write takes.

The ORM guards in ``invoice.py`` stop the application's own writes; these stop the rest (raw SQL, another
program on the same database). They raise a class-23 error, which Django reports as ``IntegrityError``.
On SQLite django-pgtrigger installs nothing; there the ORM guards and the documents' hash chain hold.
"""

import pgtrigger

RESTRICT = "restrict_violation"


def _sql_list(values) -> str:
    return ", ".join(f"'{value}'" for value in sorted(values))


def _row(prefix: str, columns) -> str:
    return ", ".join(f"{prefix}.{column}" for column in columns)


def frozen_invoice_triggers(*, frozen_statuses, legal_columns, write_once=None) -> list[pgtrigger.Trigger]:
    """``write_once`` maps a key column to its group: once the key is non-empty on an issued document, no
    column of the group may change (the hash chain link, the stored PDF's hash)."""
    frozen = _sql_list(frozen_statuses)
    old_row = _row("OLD", legal_columns)
    new_row = _row("NEW", legal_columns)
    once = "".join(
        f"""
                IF OLD.{key} <> ''
                   AND ROW({_row("NEW", group)}) IS DISTINCT FROM ROW({_row("OLD", group)}) THEN
                    RAISE EXCEPTION 'facture % émise : {key} est écrit une fois pour toutes', OLD.number
                        USING ERRCODE = '{RESTRICT}';
                END IF;"""
        for key, group in (write_once or {}).items()
    )
    return [
        pgtrigger.Trigger(
            name="issued_invoice_frozen",
            when=pgtrigger.Before,
            operation=pgtrigger.Update,
            condition=pgtrigger.Condition(f"OLD.status IN ({frozen})"),
            func=f"""
                IF NEW.status NOT IN ({frozen}) THEN
                    RAISE EXCEPTION 'facture % émise : elle ne peut pas revenir au statut %', OLD.number,
                        NEW.status USING ERRCODE = '{RESTRICT}';
                END IF;
                IF ROW({new_row}) IS DISTINCT FROM ROW({old_row}) THEN
                    RAISE EXCEPTION
                        'facture % émise : son contenu légal ne peut plus changer (émettez un avoir)',
                        OLD.number USING ERRCODE = '{RESTRICT}';
                END IF;{once}
                RETURN NEW;
            """,
        ),
        pgtrigger.Trigger(
            name="issued_invoice_kept",
            when=pgtrigger.Before,
            operation=pgtrigger.Delete,
            condition=pgtrigger.Condition(f"OLD.status IN ({frozen})"),
            func=f"""
                RAISE EXCEPTION 'facture % émise : elle ne peut pas être supprimée (émettez un avoir)',
                    OLD.number USING ERRCODE = '{RESTRICT}';
            """,
        ),
    ]


def frozen_line_triggers(*, frozen_statuses, invoice_table: str) -> list[pgtrigger.Trigger]:
    """Once per statement, over the rows it touched (transition tables): a COPY of 100,000 lines costs one
    check, not 100,000 calls."""
    frozen = _sql_list(frozen_statuses)
    refuse = f"""
                    RAISE EXCEPTION
                        'les lignes d''une facture émise ne peuvent plus changer (émettez un avoir)'
                        USING ERRCODE = '{RESTRICT}';"""

    def check(table: str) -> str:
        # Built from our own constants (statuses, table names), never from input.
        return f"""
                IF EXISTS (
                    SELECT 1 FROM {invoice_table} AS invoice
                    JOIN {table} AS line ON line.invoice_id = invoice.id
                    WHERE invoice.status IN ({frozen})
                ) THEN{refuse}
                END IF;"""  # noqa: S608

    return [
        pgtrigger.Trigger(
            name="issued_invoice_lines_added",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Insert,
            referencing=pgtrigger.Referencing(new="new_lines"),
            func=check("new_lines") + "\n                RETURN NULL;",
        ),
        pgtrigger.Trigger(
            name="issued_invoice_lines_changed",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Update,
            referencing=pgtrigger.Referencing(old="old_lines", new="new_lines"),
            func=check("old_lines") + check("new_lines") + "\n                RETURN NULL;",
        ),
        pgtrigger.Trigger(
            name="issued_invoice_lines_removed",
            level=pgtrigger.Statement,
            when=pgtrigger.After,
            operation=pgtrigger.Delete,
            referencing=pgtrigger.Referencing(old="old_lines"),
            func=check("old_lines") + "\n                RETURN NULL;",
        ),
    ]
