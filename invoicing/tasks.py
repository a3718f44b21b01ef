"""django-q2 entry points of the invoicing app: thin, they take ids or nothing and call one service.

Recurring generation and the validation rules run in the daily cycle (``syaga/ops/cycles.py``), in order
with the other steps, rather than on clock times of their own.
"""

SCHEDULES = []
