"""French labels of the codes the documents print: breach and suspension reasons, sectors, EPCI
types, funders, départements and régions. Codes are those of SPEC §4 and of the territory file;
an unknown code is shown as is rather than hidden."""

from __future__ import annotations

from workflow.eligibility import SECTOR_LABELS

__all__ = [
    "BREACH_REASON_LABELS",
    "DEPARTEMENT_NAMES",
    "EPCI_TYPE_LABELS",
    "FUNDER_LABELS",
    "REGION_NAMES",
    "SECTOR_LABELS",
    "SUSPENSION_REASON_LABELS",
    "breach_reason_label",
    "departement_label",
    "epci_type_label",
    "funder_label",
    "region_name",
    "sector_label",
    "suspension_reason_label",
]

BREACH_REASON_LABELS = {
    "resignation": "démission",
    "dismissal": "licenciement",
    "training_abandoned": "abandon de la formation",
    "refused_post": "refus du poste proposé par l'employeur",
    "diploma_failed": "échec au diplôme",
    "medical_inaptitude": "inaptitude médicale",
    "force_majeure": "force majeure",
    "employer_default": (
        "défaillance de l'employeur (absence d'embauche ou manquement à ses obligations)"
    ),
    "employer_closure": "fermeture de l'établissement employeur",
    "other": "autre motif",
}

SUSPENSION_REASON_LABELS = {
    "maternity": "congé de maternité",
    "paternity": "congé de paternité et d'accueil de l'enfant",
    "adoption": "congé d'adoption",
    "parental_leave": "congé parental d'éducation",
    "sick_leave": "arrêt de travail pour maladie de plus d'un mois",
    "disponibilite": "mise en disponibilité",
}

EPCI_TYPE_LABELS = {
    "CC": "communauté de communes",
    "CA": "communauté d'agglomération",
    "CU": "communauté urbaine",
    "METRO": "métropole",
    "MET69": "Métropole de Lyon (collectivité à statut particulier)",
}

# How a funder is named in a sentence and in a column header.
FUNDER_LABELS = {
    "employer": "employeur",
    "region": "Région",
    "ars": "ARS",
}

REGION_NAMES = {
    "01": "Guadeloupe",
    "02": "Martinique",
    "03": "Guyane",
    "04": "La Réunion",
    "06": "Mayotte",
    "11": "Île-de-France",
    "24": "Centre-Val de Loire",
    "27": "Bourgogne-Franche-Comté",
    "28": "Normandie",
    "32": "Hauts-de-France",
    "44": "Grand Est",
    "52": "Pays de la Loire",
    "53": "Bretagne",
    "75": "Nouvelle-Aquitaine",
    "76": "Occitanie",
    "84": "Auvergne-Rhône-Alpes",
    "93": "Provence-Alpes-Côte d'Azur",
    "94": "Corse",
}

DEPARTEMENT_NAMES = {
    "01": "Ain",
    "02": "Aisne",
    "03": "Allier",
    "04": "Alpes-de-Haute-Provence",
    "05": "Hautes-Alpes",
    "06": "Alpes-Maritimes",
    "07": "Ardèche",
    "08": "Ardennes",
    "09": "Ariège",
    "10": "Aube",
    "11": "Aude",
    "12": "Aveyron",
    "13": "Bouches-du-Rhône",
    "14": "Calvados",
    "15": "Cantal",
    "16": "Charente",
    "17": "Charente-Maritime",
    "18": "Cher",
    "19": "Corrèze",
    "2A": "Corse-du-Sud",
    "2B": "Haute-Corse",
    "21": "Côte-d'Or",
    "22": "Côtes-d'Armor",
    "23": "Creuse",
    "24": "Dordogne",
    "25": "Doubs",
    "26": "Drôme",
    "27": "Eure",
    "28": "Eure-et-Loir",
    "29": "Finistère",
    "30": "Gard",
    "31": "Haute-Garonne",
    "32": "Gers",
    "33": "Gironde",
    "34": "Hérault",
    "35": "Ille-et-Vilaine",
    "36": "Indre",
    "37": "Indre-et-Loire",
    "38": "Isère",
    "39": "Jura",
    "40": "Landes",
    "41": "Loir-et-Cher",
    "42": "Loire",
    "43": "Haute-Loire",
    "44": "Loire-Atlantique",
    "45": "Loiret",
    "46": "Lot",
    "47": "Lot-et-Garonne",
    "48": "Lozère",
    "49": "Maine-et-Loire",
    "50": "Manche",
    "51": "Marne",
    "52": "Haute-Marne",
    "53": "Mayenne",
    "54": "Meurthe-et-Moselle",
    "55": "Meuse",
    "56": "Morbihan",
    "57": "Moselle",
    "58": "Nièvre",
    "59": "Nord",
    "60": "Oise",
    "61": "Orne",
    "62": "Pas-de-Calais",
    "63": "Puy-de-Dôme",
    "64": "Pyrénées-Atlantiques",
    "65": "Hautes-Pyrénées",
    "66": "Pyrénées-Orientales",
    "67": "Bas-Rhin",
    "68": "Haut-Rhin",
    "69": "Rhône",
    "70": "Haute-Saône",
    "71": "Saône-et-Loire",
    "72": "Sarthe",
    "73": "Savoie",
    "74": "Haute-Savoie",
    "75": "Paris",
    "76": "Seine-Maritime",
    "77": "Seine-et-Marne",
    "78": "Yvelines",
    "79": "Deux-Sèvres",
    "80": "Somme",
    "81": "Tarn",
    "82": "Tarn-et-Garonne",
    "83": "Var",
    "84": "Vaucluse",
    "85": "Vendée",
    "86": "Vienne",
    "87": "Haute-Vienne",
    "88": "Vosges",
    "89": "Yonne",
    "90": "Territoire de Belfort",
    "91": "Essonne",
    "92": "Hauts-de-Seine",
    "93": "Seine-Saint-Denis",
    "94": "Val-de-Marne",
    "95": "Val-d'Oise",
    "971": "Guadeloupe",
    "972": "Martinique",
    "973": "Guyane",
    "974": "La Réunion",
    "976": "Mayotte",
}


def breach_reason_label(code: str | None) -> str:
    if code is None:
        return "motif non précisé"
    return BREACH_REASON_LABELS.get(code, code)


def suspension_reason_label(code: str) -> str:
    return SUSPENSION_REASON_LABELS.get(code, code)


def sector_label(code: str) -> str:
    return SECTOR_LABELS.get(code, code)


def epci_type_label(code: str | None) -> str:
    if code is None:
        return "aucun EPCI à fiscalité propre"
    return EPCI_TYPE_LABELS.get(code, code)


def funder_label(code: str) -> str:
    return FUNDER_LABELS.get(code, code)


def departement_label(code: str) -> str:
    """ "Lozère (48)", or the code alone when unknown."""
    name = DEPARTEMENT_NAMES.get(code)
    return f"{name} ({code})" if name else code


def region_name(code: str) -> str:
    return REGION_NAMES.get(code, code)
