"""The 20 regional banks named in the user guide, with their territory.

Bounding boxes are approximate (they place demo local banks and open the map), the
départements are those each regional bank serves.
"""

# code, name, program label, départements, centre (lat, lng), box (min_lat, max_lat, min_lng, max_lng)
CAISSES_REGIONALES = [
    ("ille-et-vilaine", "Ille et Vilaine", "ILLE ET VILAINE", ["35"], (48.11, -1.68), (47.7, 48.6, -2.2, -1.1)),
    ("languedoc", "Languedoc", "LANGUEDOC", ["11", "30", "34", "48"], (43.61, 3.88), (42.9, 44.5, 1.8, 4.6)),
    ("loire-haute-loire", "Loire Haute-Loire", "LOIRE HAUTE-LOIRE", ["42", "43"], (45.43, 4.39), (44.8, 46.2, 3.2, 4.7)),
    ("lorraine", "Lorraine", "LORRAINE", ["54", "55", "57"], (48.69, 6.18), (48.4, 49.5, 5.0, 7.5)),
    ("martinique-guyane", "Martinique Guyane", "MARTINIQUE GUYANE", ["972", "973"], (14.64, -61.02), (14.45, 14.85, -61.15, -60.85)),
    ("morbihan", "Morbihan", "MORBIHAN", ["56"], (47.66, -2.76), (47.4, 48.1, -3.6, -2.1)),
    ("nord-est", "Nord Est", "NORD EST", ["02", "08", "51"], (49.26, 4.03), (48.6, 50.0, 3.1, 4.9)),
    ("nord-midi-pyrenees", "Nord Midi Pyrénées", "NORD MIDI PYRÉNÉES", ["12", "46", "81", "82"], (44.35, 2.57), (43.5, 45.0, 1.0, 3.3)),
    ("nord-de-france", "Nord de France", "NORD DE FRANCE", ["59", "62"], (50.63, 3.06), (50.1, 51.0, 1.7, 4.1)),
    ("normandie", "Normandie", "NORMANDIE", ["14", "50", "61"], (49.18, -0.37), (48.5, 49.6, -1.8, 0.8)),
    ("normandie-seine", "Normandie Seine", "NORMANDIE SEINE", ["27", "76"], (49.44, 1.10), (48.8, 49.9, 0.2, 1.7)),
    ("paris", "Paris", "PARIS", ["75", "78", "91", "92", "93", "94", "95"], (48.86, 2.35), (48.6, 49.1, 1.8, 2.8)),
    ("provence-cote-d-azur", "Provence Côte d'Azur", "PROVENCE CÔTE D'AZUR", ["06", "83"], (43.70, 7.26), (43.1, 44.1, 5.8, 7.5)),
    ("pyrenees-gascogne", "Pyrénées Gascogne", "GERS", ["32", "64", "65"], (43.30, -0.37), (42.9, 44.0, -1.7, 1.1)),
    ("reunion", "Réunion", "RÉUNION", ["974"], (-20.88, 55.45), (-21.35, -20.87, 55.25, 55.8)),
    ("sud-mediterranee", "Sud Méditerranée", "SUD MÉDITERRANÉE", ["09", "66"], (42.70, 2.90), (42.5, 43.2, 1.1, 3.1)),
    ("sud-rhone-alpes", "Sud Rhône Alpes", "SUD RHÔNE ALPES", ["07", "26", "38"], (45.19, 5.72), (44.3, 45.8, 4.1, 6.2)),
    ("toulouse-31", "Toulouse 31", "TOULOUSE 31", ["31"], (43.60, 1.44), (42.8, 43.9, 0.5, 1.9)),
    ("touraine-poitou", "Touraine Poitou", "TOURAINE POITOU", ["37", "86"], (47.39, 0.69), (46.1, 47.6, 0.1, 1.2)),
    ("val-de-france", "Val de France", "VAL DE FRANCE", ["28", "41"], (48.45, 1.49), (47.3, 48.9, 0.8, 2.0)),
]
