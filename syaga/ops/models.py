"""What the firm's machine did: each cycle run and each of its steps, with counts and errors; the lease that
keeps two cycles from running at once."""

from django.db import models


class CycleKind(models.TextChoices):
    DAILY = "daily", "quotidien"
    WEEKLY = "weekly", "hebdomadaire"
    MONTH_END = "month-end", "fin de mois"


class RunStatus(models.TextChoices):
    RUNNING = "running", "en cours"
    OK = "ok", "réussi"
    FAILED = "failed", "en échec"
    INTERRUPTED = "interrupted", "interrompu"


class StepStatus(models.TextChoices):
    OK = "ok", "réussie"
    FAILED = "failed", "en échec"
    SKIPPED = "skipped", "sautée"
    NOT_CONFIGURED = "not_configured", "non configurée"


class CycleRun(models.Model):
    kind = models.CharField("cycle", max_length=10, choices=CycleKind.choices)
    day = models.DateField("jour")
    dry_run = models.BooleanField("simulation", default=False)
    status = models.CharField("statut", max_length=12, choices=RunStatus.choices, default=RunStatus.RUNNING)
    holder = models.CharField("exécuté par", max_length=200, blank=True)
    started_at = models.DateTimeField("commencé le")
    finished_at = models.DateTimeField("fini le", null=True, blank=True)

    class Meta:
        verbose_name = "exécution de cycle"
        verbose_name_plural = "exécutions de cycles"
        ordering = ["-started_at", "-pk"]
        indexes = [models.Index(fields=["kind", "day"], name="cycle_run_kind_day")]

    def __str__(self):
        return f"Cycle {self.get_kind_display()} du {self.day:%d/%m/%Y}"


class CycleStep(models.Model):
    run = models.ForeignKey(CycleRun, on_delete=models.CASCADE, related_name="steps")
    position = models.PositiveSmallIntegerField()
    code = models.CharField(max_length=40)
    label = models.CharField("étape", max_length=120)
    status = models.CharField("statut", max_length=16, choices=StepStatus.choices)
    started_at = models.DateTimeField("commencée le")
    finished_at = models.DateTimeField("finie le", null=True, blank=True)
    counts = models.JSONField("comptes", default=dict, blank=True)
    message = models.TextField("résultat", blank=True)
    error = models.TextField("erreur", blank=True)

    class Meta:
        verbose_name = "étape de cycle"
        verbose_name_plural = "étapes de cycles"
        ordering = ["run", "position"]

    def __str__(self):
        return f"{self.label} ({self.get_status_display()})"


class CycleLease(models.Model):
    """One row per cycle kind: who runs it and until when (renewed at every step). A holder that died
    (kill -9) leaves a lease that expires, or that the same machine sees is no longer alive."""

    kind = models.CharField(max_length=10, unique=True)
    holder = models.CharField(max_length=200, blank=True)
    until = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = "verrou de cycle"
        verbose_name_plural = "verrous de cycles"

    def __str__(self):
        return f"{self.kind}: {self.holder or 'libre'}"
