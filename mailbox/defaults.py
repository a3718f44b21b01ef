"""The e-mail templates a new installation starts with, in French (one per kind; J+15 / J+30 / J+45).

The data migration writes them once; :func:`mailbox.services.sending.templates_ensure` writes back any one that
has gone missing (a database emptied by hand), so that sending never stops for want of a text.
"""

SIGNATURE = """
Cordialement,
{{ seller_name }}
{{ seller_email }}"""

PAYMENT = """Règlement par virement{% if iban %} sur l'IBAN {{ iban }}{% if bic %} (BIC {{ bic }}){% endif %}{% endif %}, en indiquant la référence {{ payment_reference }}."""

TEMPLATES = {
    "recurring": (
        "Facture {{ number }} – {{ seller_name }}",
        None,
        """Bonjour,

Veuillez trouver ci-joint la facture {{ number }} de votre forfait{% if period %} ({{ period }}){% endif %}, d'un montant de {{ amount }} TTC, payable au plus tard le {{ due_date }}.

"""
        + PAYMENT
        + """

Nous restons à votre disposition pour toute question.
"""
        + SIGNATURE,
    ),
    "one_off": (
        "Facture {{ number }} – {{ seller_name }}",
        None,
        """Bonjour,

Veuillez trouver ci-joint la facture {{ number }} des prestations réalisées{% if period %} ({{ period }}){% endif %}, d'un montant de {{ amount }} TTC, payable au plus tard le {{ due_date }}. Le détail des temps passés figure sur la facture.
{% if purchase_order %}
Votre bon de commande : {{ purchase_order }}.
{% endif %}
"""
        + PAYMENT
        + """

Nous restons à votre disposition pour toute question.
"""
        + SIGNATURE,
    ),
    "credit_note": (
        "Avoir {{ number }} – {{ seller_name }}",
        None,
        """Bonjour,

Veuillez trouver ci-joint l'avoir {{ number }} d'un montant de {{ amount }} TTC{% if credited_number %}, qui vient en déduction de la facture {{ credited_number }}{% endif %}.

Nous restons à votre disposition pour toute question.
"""
        + SIGNATURE,
    ),
    "dunning_1": (
        "Rappel : facture {{ number }} échue le {{ due_date }}",
        15,
        """Bonjour,

Sauf erreur ou omission de notre part, la facture {{ number }} du {{ issue_date }}, échue le {{ due_date }}, reste impayée à ce jour (reste dû : {{ balance }}). Vous la trouverez de nouveau ci-jointe.

"""
        + PAYMENT
        + """

Si votre règlement est déjà parti, merci de ne pas tenir compte de ce message. Et si quelque chose vous empêche de la régler, dites-le-nous simplement en répondant à cet e-mail.
"""
        + SIGNATURE,
    ),
    "dunning_2": (
        "Deuxième relance : facture {{ number }} impayée",
        30,
        """Bonjour,

Malgré notre précédent rappel, la facture {{ number }} du {{ issue_date }}, échue le {{ due_date }}, reste impayée ({{ balance }}, {{ days_late }} jours de retard).

Nous vous remercions de procéder à son règlement sous huit jours. Nous vous rappelons que, conformément à nos conditions et à l'article L441-10 du code de commerce, des pénalités de retard au taux annuel de {{ penalty_rate }} et une indemnité forfaitaire pour frais de recouvrement de {{ indemnity }} sont exigibles.

"""
        + PAYMENT
        + """

En cas de désaccord sur cette facture, merci de nous en indiquer le motif en répondant à cet e-mail.
"""
        + SIGNATURE,
    ),
    "dunning_3": (
        "Mise en demeure de payer – facture {{ number }}",
        45,
        """Madame, Monsieur,

Malgré nos relances, la facture {{ number }} du {{ issue_date }}, échue le {{ due_date }}, demeure impayée.

Par la présente, nous vous mettons en demeure de nous régler sous huit jours la somme de {{ total_claimed }}, soit :
- reste dû sur la facture : {{ balance }} ;
- pénalités de retard au taux annuel de {{ penalty_rate }} sur {{ days_late }} jours : {{ penalties }} ;
- indemnité forfaitaire pour frais de recouvrement (articles L441-10 et D441-5 du code de commerce) : {{ indemnity }}.

"""
        + PAYMENT
        + """

À défaut de règlement dans ce délai, nous engagerons la procédure de recouvrement sans autre avis.

Veuillez agréer, Madame, Monsieur, nos salutations distinguées.
{{ seller_name }}""",
    ),
}
