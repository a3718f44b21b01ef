"""Cues: phrases that say what a reply is, on the folded new text (lower case, no accents).

Each cue gives points to one category. A cue marked ``negatable`` does not count when the clause negates it
just before ("aucune erreur", "pas de contestation", "sans erreur", "no dispute") or around the verb ("nous
ne contestons pas"): such a negated complaint counts for the acknowledgement instead. Cues that carry their
own negation ("ne correspond pas", "jamais livré", "nous ne paierons pas") are written whole and are not
negatable.

Disputes also get an urgency (5: formal notice, lawyer, court, refusal to pay; 4: anger, repeated complaint,
"immediately"; 2: a hesitant remark; 3 otherwise) and a type (duplicate or already paid, service not
delivered, amount error, other).
"""

import re
from dataclasses import dataclass, field

ACK, QUESTION, DISPUTE, PAYMENT, DELAY, AUTO_REPLY = (
    "ack",
    "question",
    "dispute",
    "payment",
    "delay",
    "auto_reply",
)
CATEGORIES = (ACK, QUESTION, DISPUTE, PAYMENT, DELAY, AUTO_REPLY)

AMOUNT_ERROR, NOT_DELIVERED, DUPLICATE_PAID, OTHER = (
    "amount_error",
    "not_delivered",
    "duplicate_paid",
    "other",
)

MONTHS = (
    r"(?:janvier|fevrier|mars|avril|mai|juin|juillet|aout|septembre|octobre|novembre|decembre|january|"
    r"february|march|april|may|june|july|august|september|october|november|december)"
)
PAY_VERB = r"(?:pa[iy]\w*|regl\w*|regle\w*|verse\w*|vire\w*|settle\w*)"


@dataclass(frozen=True)
class Cue:
    category: str
    pattern: re.Pattern
    weight: int = 2
    negatable: bool = False
    label: str = ""
    dispute_type: str = ""


def cue(category, pattern, weight=2, *, negatable=False, label="", dispute_type=""):
    return Cue(category, re.compile(pattern), weight, negatable, label or pattern[:40], dispute_type)


CUES: list[Cue] = [
    # --- automatic replies (body) -------------------------------------------------------------------------
    cue(
        AUTO_REPLY,
        r"\b(?:je suis|i am|i'm|nous sommes)(?: actuellement| currently)? (?:absente?s?|en conges?|"
        r"en vacances|"
        r"en deplacement|en arret|en formation|out of (?:the )?office|away|on (?:\w+ )?leave|on holiday|"
        r"on vacation|travel+ing)\b",
        3,
        label="absence annoncée",
    ),
    cue(AUTO_REPLY, r"\bout of (?:the )?office\b", 3, label="out of office"),
    cue(
        AUTO_REPLY,
        r"\b(?:message|reponse|response|reply|accuse de reception|courriel|e-?mail) (?:est )?(?:genere )?"
        r"automati(?:que|quement|c|cally generated)\b|\bautomat(?:ic|ed) (?:reply|response|message|"
        r"acknowledge?ment)\b|\bthis is an automated\b|\bgenere automatiquement\b",
        3,
        label="message automatique",
    ),
    cue(
        AUTO_REPLY,
        r"\b(?:merci de|veuillez|please) (?:ne pas|do not|don't) (?:y )?(?:repondre|reply)\b|"
        r"\bdo not reply\b|"
        r"\bne pas repondre a ce (?:message|mail|courriel)",
        3,
        label="ne pas répondre",
    ),
    cue(
        AUTO_REPLY,
        r"\b(?:votre|your) (?:demande|request|message|ticket|e-?mail|courriel)\b.{0,30}\b(?:a (?:bien )?ete|"
        r"has been|was) (?:enregistree?|recue?|received|logged|created|transmise?)\b",
        3,
        label="demande enregistrée",
    ),
    cue(
        AUTO_REPLY,
        r"\b(?:ticket|case|incident|dossier|request)\s*(?:n[o°]?|#|number|numero)?\s*:?\s*\d{4,}",
        1,
    ),
    cue(
        AUTO_REPLY,
        r"\bne (?:consulterai|lirai|traiterai|pourrai pas consulter)\b|\bacces limite (?:a mes|aux) "
        r"(?:e-?mails|messages|courriels)|\b(?:limited|no) access to (?:my )?e-?mails?\b",
        3,
        label="messages non lus pendant l'absence",
    ),
    cue(
        AUTO_REPLY,
        r"\b(?:votre|your) (?:message|e-?mail|courriel) ne sera (?:pas )?(?:transfere|lu|traite)|"
        r"\bwill not be (?:forwarded|read)\b|\bcette adresse (?:n'est plus|e-?mail n'est plus)|"
        r"\bthis (?:mailbox|address|e-?mail address) is no longer\b",
        3,
        label="message non transmis",
    ),
    cue(
        AUTO_REPLY,
        r"\b(?:de retour le|je serai de retour|will (?:be back|return) (?:on|in)|back in the office|"
        r"jusqu'au \d+"
        r"(?: \w+)? inclus|until (?:monday|tuesday|wednesday|thursday|friday|\d))",
        2,
    ),
    cue(
        AUTO_REPLY,
        r"\b(?:en cas d'urgence|pour toute urgence|for (?:anything |any )?urgent|if urgent|en mon absence|"
        r"in my absence|during my absence)\b",
        2,
    ),
    # --- disputes -------------------------------------------------------------------------------------------
    cue(
        DISPUTE,
        r"\brefus\w* (?:de )?(?:le |la |ce |cette |votre )?(?:payer|regler|paiement|reglement|honorer)",
        4,
        label="refus de payer",
    ),
    cue(
        DISPUTE,
        r"\bn(?:e |')(?:paierons|payerons|reglerons|paierai|payerai|reglerai|allons pas (?:payer|regler))\b"
        r"(?: \w+){0,2} (?:pas|rien|jamais|aucun)\b|\bne (?:paierons|reglerons|payerons) (?:pas|rien|"
        r"jamais)\b",
        4,
        label="ne paiera pas",
    ),
    cue(
        DISPUTE,
        r"\b(?:will not|won't|refuse to|are not going to|shall not) (?:pay|settle)\b",
        4,
        label="will not pay",
    ),
    cue(
        DISPUTE,
        r"\b(?:avocats?|lawyers?|attorneys?|solicitors?|huissier|tribunal|court|contentieux|juridique|"
        r"en justice|legal (?:action|proceedings|department|team)|poursuites|procedure judiciaire|"
        r"notre conseil|"
        r"vous (?:mets|mettons) en demeure|mettre en demeure)\b",
        4,
        label="avocat, tribunal, mise en demeure",
    ),
    cue(DISPUTE, r"\bcontest\w*", 3, negatable=True, label="contestation"),
    cue(DISPUTE, r"\b(?:we|i) (?:strongly )?dispute\b|\bdispute (?:the|this)\b", 3, negatable=True),
    cue(DISPUTE, r"\b(?:do not|don't|cannot) agree\b|\bdisagree\b|\bpas d'accord\b", 3, label="désaccord"),
    cue(
        DISPUTE,
        r"\b(?:erreur|errone\w*|incorrect\w*|inexact\w*|faux|fausse|wrong|mistake|error)\b",
        2,
        negatable=True,
        label="erreur",
    ),
    cue(
        DISPUTE,
        r"\bne correspond\w* (?:pas|plus|en rien)\b|\b(?:does not|doesn't|do not|don't) (?:match|"
        r"correspond)\b",
        3,
        label="ne correspond pas",
        dispute_type=AMOUNT_ERROR,
    ),
    cue(DISPUTE, r"\b(?:injustifi\w*|unjustified|not justified|abusi\w*|non conforme|pas conforme)\b", 3),
    cue(
        DISPUTE,
        r"\bau lieu de \d|\bet non (?:pas )?(?:de )?\d|\binstead of \d|\bnot \d+\b|\bpas \d+ ?(?:euros?|eur|"
        r"€)",
        2,
        label="montant au lieu d'un autre",
        dispute_type=AMOUNT_ERROR,
    ),
    cue(
        DISPUTE,
        r"\b(?:nous avions|on avait|avions) (?:convenu|dit|negocie)|\bce n'est pas ce qui (?:etait|"
        r"a ete) prevu|"
        r"\b(?:n'etait|n'est) pas prevu|\bpas prevue? au (?:contrat|devis)|\bne devai(?:t|"
        r"ent) pas etre factur|"
        r"\bhors (?:contrat|forfait|devis)|\b(?:far )?above what was agreed|\bmore than (?:what was )?agreed|"
        r"\bnot (?:part of|included in) (?:the|our)",
        3,
        label="pas ce qui était convenu",
        dispute_type=AMOUNT_ERROR,
    ),
    cue(
        DISPUTE,
        r"\b(?:ne tient pas compte|il manque la (?:deduction|remise)|manque la (?:deduction|remise)|oubli\w* "
        r"(?:de )?(?:la|notre) remise|sans (?:la|notre) remise)",
        2,
        label="remise ou acompte oublié",
        dispute_type=AMOUNT_ERROR,
    ),
    cue(
        DISPUTE,
        r"\b(?:annul\w* (?:cette|la|votre) facture|merci d'annuler|(?:please )?cancel (?:it|this|"
        r"the invoice)|"
        r"\bde l'annuler)",
        3,
        label="annuler la facture",
    ),
    cue(
        DISPUTE,
        r"\b(?:emettre|etablir|faire|adresser|envoyer|issue|send) (?:nous )?(?:un |a )?(?:avoir|"
        r"credit note)\b|"
        r"\bmerci de (?:corriger|rectifier|refaire)|\b(?:corriger|rectifier|refaire) (?:la|cette|"
        r"votre) facture|"
        r"\bfacture (?:rectifiee|corrigee|rectificative)|\bcorrected invoice\b|\bpouvez-?vous rectifier|"
        r"\brectifier\b",
        3,
        label="corriger la facture, avoir",
    ),
    cue(
        DISPUTE,
        r"\b(?:factur\w*|charged|billed|invoiced) (?:\w+ ){0,4}(?:deux fois|2 fois|en double|twice)|"
        r"\bdoublon\b|"
        r"\bduplicate\b|\ben double\b|\bdeux fois la meme\b",
        3,
        label="facturé deux fois",
        dispute_type=DUPLICATE_PAID,
    ),
    cue(
        DISPUTE,
        r"\bdeja (?:\w+ ){0,2}(?:regle\w*|paye\w*|effectue\w*|verse\w*|vire\w*|solde\w*)|\balready "
        r"(?:been )?(?:paid|settled)\b|\b(?:reglee?|payee?) en meme temps que\b|\bn'avons rien a (?:payer|"
        r"regler)",
        3,
        label="déjà payée",
        dispute_type=DUPLICATE_PAID,
    ),
    cue(
        DISPUTE,
        r"\bjamais (?:ete )?(?:realise\w*|livre\w*|effectue\w*|fait|eu lieu|commande\w*|execute\w*|"
        r"installe\w*)|"
        r"\b(?:pas|non) (?:ete )?(?:realise\w*|livre\w*|effectue\w*|execute\w*|installe\w*)\b|"
        r"\bn'a (?:jamais|pas) eu lieu|\binacheve\w*|\bnever (?:been )?(?:delivered|performed|done|ordered|"
        r"received the (?:service|goods))|\bnot (?:been )?(?:delivered|performed)\b",
        3,
        label="prestation non réalisée",
        dispute_type=NOT_DELIVERED,
    ),
    cue(
        DISPUTE,
        r"\bpas (?:votre|vos) clients?\b|\bnot your (?:customer|client)\b|\bmauvaise? (?:societe|entite|"
        r"client)|"
        r"\bwrong (?:company|entity|customer)\b|\berreur de destinataire\b",
        3,
        label="mauvais destinataire",
    ),
    cue(
        DISPUTE,
        r"\bresili\w*|\bterminated (?:the|our) contract\b|\bcontrat (?:s'est )?termine",
        2,
        label="contrat résilié",
    ),
    cue(
        DISPUTE,
        r"\b(?:ne (?:pouvons|pourrons) pas|cannot|can't) (?:valider|accepter|approve|accept) cette facture|"
        r"\bcannot approve\b|\bne pouvons pas valider\b",
        3,
        label="ne peut pas valider la facture",
    ),
    cue(DISPUTE, r"\b(?:je ne comprends?|je comprends? pas|don't understand) (?:ce|le|this|the) montant", 2),
    cue(DISPUTE, r"\b(?:surpris|etonne\w*|surprised)\b", 1),
    cue(
        DISPUTE,
        r"\b(?:avons|ai|we have|we|i) (?:\w+ )?(?:paye|regle|vire|paid|settled)\w* (?:\w+ ){0,3}(?:il y a|"
        r"ago|"
        r"le mois dernier|la semaine derniere|last (?:week|month))|\b(?:verifiez|check) (?:vos|your) "
        r"(?:comptes|releves|records|accounts|books)",
        3,
        label="payé il y a longtemps",
        dispute_type=DUPLICATE_PAID,
    ),
    cue(
        DISPUTE,
        r"\bde trop\b|\ben trop\b|\btoo (?:many|much)\b",
        2,
        negatable=True,
        label="facturé en trop",
        dispute_type=AMOUNT_ERROR,
    ),
    cue(
        DISPUTE, r"\b(?:cessez|arretez) (?:de )?(?:nous )?(?:relancer|les relances)|\bcesser les relances", 2
    ),
    # --- delay requests -------------------------------------------------------------------------------------
    cue(
        DELAY,
        r"\bdelai (?:de paiement )?(?:supplementaire|additionnel|de grace)|\b(?:un )?(?:peu )?plus de "
        r"(?:temps|delai)\b|\bmore time\b|\b(?:\d+|huit|dix|quinze|trente|quelques) (?:jours|"
        r"semaines) de plus\b|"
        r"\b(?:a few|\d+|two|three) (?:more|extra|additional) (?:days|weeks)\b|"
        r"\badditional (?:time|\d+ (?:days|weeks|months))\b|"
        r"\b(?:accorder|octroyer|beneficier d'|obtenir|solliciter) un delai",
        3,
        label="délai supplémentaire",
    ),
    cue(
        DELAY,
        r"\breport (?:de |du )?(?:paiement|reglement|l'echeance|la date)|\breporter\b|\bun report\b|"
        r"\bdecaler\b|\brepousser\b|\bpush (?:\w+ ){0,2}back\b|\bpostpone\b|\bdefer\b",
        3,
        label="report, décaler",
    ),
    cue(
        DELAY,
        r"\bech[ea]ancier\b|\bplan de (?:paiement|reglement|remboursement)|\bpayment plan\b|"
        r"\binstal+ments?\b|"
        r"\bmensualites\b|\ben (?:\d+|deux|trois|quatre|cinq|six|plusieurs) (?:fois|versements|mensualites|"
        r"echeances|paiements)\b|\betal(?:er|ement)\b|\bspread (?:the )?payment",
        3,
        label="échéancier, en plusieurs fois",
    ),
    cue(
        DELAY,
        r"\b(?:payer|regler|pay|settle) (?:\w+ ){0,3}(?:a|dans|sous|in|within) \d+ (?:jours|days)\b|"
        r"\ba \d+ jours "
        r"au lieu de\b|\bextension\b|\bprolongation\b",
        3,
        label="payer à N jours",
    ),
    cue(
        DELAY,
        r"\b(?:ne (?:pourrons|pourrai|pouvons|peux) pas|cannot|can't|unable to) (?:payer|regler|pay|settle)"
        r"(?: \w+){0,3} (?:avant|before|until)\b|\bne (?:pourrons|pourrai|pouvons|peux|pourra) (?:\w+ )?"
        r"(?:payer|regler)\w* qu'",
        3,
        label="ne peut pas payer avant",
    ),
    cue(
        DELAY,
        r"\b(?:pouvons|pourrions|pourrait|peut-on|possible|envisageable|could we|can we|may we)\b.{0,50}\b"
        rf"(?:payer|regler|pay|settle)\b.{{0,40}}\b(?:fin|end of|until|jusqu|en {MONTHS}|in {MONTHS}|au \d+)",
        3,
        label="payer plus tard",
    ),
    cue(
        DELAY,
        r"\b(?:tresorerie (?:tendue|difficile|serree)|difficultes? (?:financieres|de tresorerie)|"
        r"cash is tight|"
        r"cash ?flow (?:issues|problems|difficulties)|tensions? de tresorerie|retablir (?:notre|"
        r"la) tresorerie)",
        2,
        label="trésorerie difficile",
    ),
    cue(
        DELAY,
        r"\b(?:le reste|the rest|the balance|le solde) (?:\w+ ){0,3}(?:le mois prochain|next month|plus tard|"
        r"later|"
        r"fin (?:du|de)|end of)",
        3,
        label="le reste plus tard",
    ),
    cue(DELAY, r"\bpatienter\b|\bbear with us\b|\bbe patient\b", 3, label="patienter"),
    cue(DELAY, r"\bplus tard\b|\blater date\b|\bla moitie maintenant\b|\bhalf now\b", 1),
    # --- payments announced ---------------------------------------------------------------------------------
    cue(
        PAYMENT,
        r"\bvirement (?:\w+ ){0,3}(?:a ete |est |sera |bien |va etre )?(?:effectue|parti|passe|emis|lance|"
        r"envoye|"
        r"realise|programme|fait|execute|ordonne|valide)",
        3,
        negatable=True,
        label="virement effectué",
    ),
    cue(
        PAYMENT,
        r"\b(?:effectue|lance|fais|fait|emis|programme|passe|envoye|ordonne|realise)\w* (?:\w+ ){0,2}"
        r"(?:le |un |notre |ce |du )?(?:virement|reglement|paiement|cheque)\b",
        3,
        negatable=True,
        label="paiement lancé",
    ),
    cue(
        PAYMENT,
        r"\b(?:reglement|paiement|cheque|virement) (?:\w+ ){0,3}(?:a ete |est |sera |part |partira |"
        r"va partir |"
        r"partent )?(?:effectue|envoye|poste|parti|part|emis|execute|programme|valide|lance|fait|realise)",
        3,
        negatable=True,
        label="règlement envoyé",
    ),
    cue(
        PAYMENT,
        r"\bsera (?:reglee?|payee?|honoree?|virement)\b|\b(?:facture|montant) sera (?:reglee?|payee?)|"
        r"\b(?:nous|je) (?:reglons|regle|reglerons|reglerai|paie|paye|paierons|payons|vire|virons)\b",
        3,
        negatable=True,
        label="sera réglée",
    ),
    cue(
        PAYMENT,
        r"\bc'est regle\b|\b(?:avons|ai) (?:bien )?(?:regle|paye|vire|solde)\b|\bregle (?:depuis|ce matin|"
        r"aujourd'hui|hier|ce jour)",
        3,
        negatable=True,
        label="réglé",
    ),
    cue(
        PAYMENT,
        r"\b(?:avis|preuve|ordre|justificatif|confirmation) de (?:virement|paiement|reglement)|"
        r"\bremittance\b|"
        r"\bproof of payment\b|\bpayment (?:confirmation|advice)\b",
        3,
        label="avis de virement",
    ),
    cue(PAYMENT, r"\bcheque (?:n[o°]?|numero)? ?\d{5,}|\bpar cheque\b|\bcheque (?:a ete |est )?poste", 2),
    cue(
        PAYMENT,
        r"\b(?:envoie|envoyons|poste|postons|adresse|adressons|joins) (?:\w+ ){0,2}(?:le |un |notre |"
        r"votre )?cheque|"
        r"\btransfer (?:\w+ )?(?:initiated|sent|made|done|completed|ordered)\b",
        3,
        negatable=True,
        label="chèque envoyé",
    ),
    cue(
        PAYMENT,
        r"\b(?:payment|transfer|remittance) (?:\w+ ){0,2}(?:was|has been|is|will be|have been) (?:\w+ )?"
        r"(?:made|sent|released|scheduled|processed|initiated|issued|executed|approved)\b|\b(?:invoice|it) "
        r"(?:has been|was|is) (?:now )?(?:paid|settled)\b|\b(?:we|i) (?:have )?(?:paid|settled|"
        r"transferred)\b|"
        r"\bscheduled (?:the|a|your) (?:transfer|payment)\b|\bnext payment run\b|\bpayment run\b|"
        r"\bwill (?:be )?pa(?:y|id)\b|\bpaid (?:today|yesterday|this morning)\b",
        3,
        negatable=True,
        label="payment made",
    ),
    cue(
        PAYMENT,
        r"\bcampagne de (?:paiement|reglement)|\bprochain (?:cycle|lot|run|virement)s? (?:de )?(?:paiement|"
        r"reglement|virement|fournisseurs)|\bmise en paiement\b|\bprogramme le paiement|\bpaiement (?:\w+ )?"
        r"(?:programme|planifie|prevu) (?:le|au|pour)",
        2,
        label="paiement programmé",
    ),
    cue(PAYMENT, r"\ba l'echeance\b|\bon the due date\b", 1),
    # --- questions ------------------------------------------------------------------------------------------
    cue(
        QUESTION,
        r"\b(?:pourriez|pouvez|pourrais|peux|pourrait|pourrions)[- ](?:vous|tu|on|nous)\b|\b(?:could|can|"
        r"would) "
        r"you\b|\bplease (?:send|provide|confirm|advise|let|resend|add|tell|share)\b|\bmerci de (?:nous |"
        r"me )?"
        r"(?:transmettre|envoyer|communiquer|indiquer|preciser|faire parvenir|renvoyer|dire)",
        2,
        label="pouvez-vous",
    ),
    cue(
        QUESTION,
        r"\b(?:quel|quelle|quels|quelles|comment|pourquoi|combien|a quoi|qui|ou|which|what|when|where|who|"
        r"how)\b"
        r"[^.?!\n]{0,120}\?",
        2,
        label="question ouverte",
    ),
    cue(QUESTION, r"\?", 1, label="point d'interrogation"),
    cue(
        QUESTION,
        r"\b(?:est-il|est-ce|serait-il|is it|is there|do you|did you|have you|avez-vous|faut-il)\b",
        1,
    ),
    cue(
        QUESTION,
        r"\b(?:rib|iban|bic|duplicata|copie|pdf|bon de commande|numero de commande|purchase order|po number|"
        r"detail (?:des|de vos) (?:heures|jours|interventions)|releve d'heures|feuilles? de temps|"
        r"timesheets?|"
        r"adresse (?:de facturation|postale)|siret|tva intra\w*|attestation|kbis|urssaf|chorus|"
        r"bank (?:account|details)|reference (?:de|du) (?:notre )?(?:marche|commande))\b",
        1,
        label="document demandé",
    ),
    cue(
        QUESTION,
        r"\b(?:renvoyer|resend|send (?:it|the invoice|them) again|re-send|transmettre a nouveau|"
        r"de nouveau)\b|"
        r"\b(?:ajouter|add|mentionner|faire figurer) (?:le |la |notre |our |the )?(?:reference|numero|bon|po|"
        r"purchase)|\bmettre a jour\b|\blibeller\b|\bau nom de\b|\bje ne (?:re)?trouve pas\b",
        2,
        label="demande de modification ou de copie",
    ),
    # --- acknowledgements -----------------------------------------------------------------------------------
    cue(
        ACK,
        r"\bbien (?:recu|recue|reception\w*)\b|\breception (?:confirmee|bien)\b|\b(?:accusons|accuse) "
        r"(?:bonne )?reception|\bconfirme (?:la )?(?:bonne )?reception|\b(?:well )?received\b|\bgot it\b|"
        r"\bc (?:bien )?recu\b|\brecu,? merci\b",
        3,
        label="bien reçu",
    ),
    cue(
        ACK,
        r"\b(?:avoir|ai|avons|a ete|ont ete|a bien ete) (?:bien )?(?:recue?s?|receptionnee?s?)\b",
        3,
        negatable=True,
        label="reçue",
    ),
    cue(
        ACK,
        r"\bc'est note\b|\bbien note\b|\bnote (?:de notre cote|pour)\b|\bpris (?:bonne )?note\b|\bnoted\b",
        3,
    ),
    cue(
        ACK,
        r"\btransmi(?:s|se)? (?:\w+ ){0,3}(?:au|a la|a notre|a nos|a mme|a m\b|pour)|\bje (?:la |les |vous )?"
        r"(?:transmets|fais suivre|transfere)|\bfais suivre\b|\bforwarded\b|"
        r"\bpass(?:ed)? (?:it )?(?:on )?to\b|"
        r"\bwill pass\b|\bi'll pass\b|\bsuit le circuit\b|\bcircuit de validation\b",
        3,
        label="transmise",
    ),
    cue(
        ACK,
        r"\b(?:aucune|pas d'|pas de|sans) (?:erreur|contestation|remarque|souci|probleme|reserve)|"
        r"\brien a redire\b|"
        r"\bno (?:issues?|dispute|problem|objection)s?\b|\bnothing to (?:add|report)\b|\b(?:est|"
        r"sont) conformes?\b",
        2,
        label="pas de contestation",
    ),
    cue(ACK, r"\benregistree?\b|\bvalidee?\b|\blogged\b", 1),
    cue(ACK, r"\bmerci\b|\bthanks?\b|\bthank you\b|\bok\b", 1),
]

# Urgency of a dispute: the first group with a hit wins, 3 without any.
URGENCY_5 = re.compile(
    r"\b(?:avocats?|lawyers?|attorneys?|solicitors?|huissier|tribunal|court|contentieux|juridique|en justice|"
    r"legal (?:action|proceedings|department|team)|poursuites|procedure judiciaire|notre conseil|"
    r"vous (?:mets|mettons) en demeure|mettre en demeure|refus\w* (?:de )?(?:le |la |ce |cette |votre )?"
    r"(?:payer|regler|paiement|reglement)|will not pay|won't pay|refuse to pay|ne (?:paierons|payerons|"
    r"reglerons|paierai|reglerai) (?:pas|rien|jamais))"
)
# A refusal tied to a condition ("en l'état", "tant que", "until") is a strong complaint, not a final refusal.
CONDITIONAL = re.compile(r"\b(?:en l'etat|tant que|until|unless|avant (?:correction|d'avoir|reception))\b")
LEGAL = re.compile(
    r"\b(?:avocats?|lawyers?|attorneys?|solicitors?|huissier|tribunal|court|contentieux|juridique|en justice|"
    r"legal (?:action|proceedings|department|team)|poursuites|procedure judiciaire|notre conseil|"
    r"vous (?:mets|mettons) en demeure|mettre en demeure)"
)
URGENCY_4 = re.compile(
    r"\b(?:inadmissible|inacceptable|unacceptable|scandal\w*|honteu\w*|intolerable|outrage\w*|furieu\w*|"
    r"immediatement|immediately|sans delai|deuxieme fois|troisieme fois|\d+e fois|second time|third time|"
    r"arretez|cessez|harcel\w*|tres (?:mecontent|decu|surpris)|extremely|the (?:full|whole|entire) amount|"
    r"ne paierons rien|ne reglerons rien)\b|!!"
)
URGENCY_2 = re.compile(
    r"\b(?:il me semble|il semble|je crois|je pense|i think|it seems|might be|may be|pourrait y avoir|"
    r"petite? (?:erreur|remarque|coquille|question)|small (?:mistake|error)|minor|"
    r"(?:pouvez|pourriez)[- ]vous (?:verifier|regarder|rectifier)|could you (?:check|verify|have a look)|"
    r"can you (?:check|verify))\b"
)
TYPE_ORDER = (DUPLICATE_PAID, NOT_DELIVERED, AMOUNT_ERROR)
TYPE_WORDS = {
    AMOUNT_ERROR: re.compile(
        r"\b(?:montant|tarif|prix|taux|heures?|jours?|tva|remise|acompte|quantite|licences?|amount|rate|"
        r"hours?|"
        r"days?|price|discount|vat|licen[cs]es?|forfait|devis|euros?|€)\b|\d+ ?(?:€|eur)"
    ),
}

_NEGATION_BEFORE = re.compile(
    r"(?:\b(?:pas|aucun|aucune|sans|ni|no|not|never|nothing|sauf|non|zero)\b|\bn't\b)[^.;:!?\n,]{0,25}$"
)
_NE_BEFORE = re.compile(r"\b(?:ne|n')\s*(?:\w+\s+){0,1}$|\bn'$")
_NEG_AFTER = re.compile(r"^\w*\s+(?:\w+\s+)?(?:pas|plus|point|jamais|aucun\w*|rien|nullement)\b")


def negated(text: str, start: int, end: int) -> bool:
    before = text[max(0, start - 40) : start]
    after = text[end : end + 25]
    if _NEGATION_BEFORE.search(before):
        return True
    return bool(_NE_BEFORE.search(before) and _NEG_AFTER.search(" " + after.lstrip() if after else ""))


@dataclass
class RuleResult:
    scores: dict[str, int] = field(default_factory=lambda: dict.fromkeys(CATEGORIES, 0))
    hits: list[str] = field(default_factory=list)
    dispute_types: list[str] = field(default_factory=list)


def apply(text: str) -> RuleResult:
    """Score every category on folded new text; negated complaints count as acknowledgement."""
    result = RuleResult()
    for c in CUES:
        for found in c.pattern.finditer(text):
            if c.negatable and negated(text, found.start(), found.end()):
                if c.category == DISPUTE:
                    result.scores[ACK] += 1
                    result.hits.append(f"{ACK}: « {found.group(0)} » nié")
                continue
            result.scores[c.category] += c.weight
            result.hits.append(f"{c.category}: « {found.group(0).strip()} »")
            if c.dispute_type:
                result.dispute_types.append(c.dispute_type)
            break  # one count per cue: a repeated word is not more evidence
    return result


def dispute_urgency(text: str) -> int:
    if LEGAL.search(text):
        return 5
    if URGENCY_5.search(text):
        return 4 if CONDITIONAL.search(text) else 5
    if URGENCY_4.search(text):
        return 4
    if URGENCY_2.search(text):
        return 2
    return 3


def dispute_type(text: str, hinted: list[str]) -> str:
    for kind in TYPE_ORDER:
        if kind in hinted:
            return kind
    if TYPE_WORDS[AMOUNT_ERROR].search(text):
        return AMOUNT_ERROR
    return OTHER
