"""How PostgreSQL plans the statements of one transaction."""

from django.db import connections


def plan_with_values(using: str = "default") -> None:
    """Have PostgreSQL plan each later statement of this transaction with its values.

    psycopg prepares a statement a connection has run 5 times, and PostgreSQL
    may then keep one generic plan for it. For a statement with a long
    ``IN`` list that plan compares each row it reads with every value in
    turn, where a plan made with the values hashes them, and its row
    estimates date from when the tables were small. A transaction that sends
    such statements calls this first: ``SET LOCAL`` ends with the
    transaction, so nothing is left on a pooled server connection. Nothing
    happens outside PostgreSQL.
    """
    connection = connections[using]
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL plan_cache_mode = force_custom_plan")
