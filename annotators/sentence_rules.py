"""English word lists for the rule-based sentence detector.

Lower-case, without the trailing period. The lists are ordinary English usage (titles, company
suffixes, reference abbreviations), grouped by how a following capitalised word is read.
"""

from __future__ import annotations

#: Titles and place prefixes: they precede a name, so a capital after them never starts a sentence.
PREPOSITIVE = frozenset(
    """
    adm atty brig capt cmdr col comdr con cpl dr drs ens fr gen gov hon insp lt maj messrs mlle mme
    mr mrs ms msgr mt op ord pfc ph pres prof pvt rep reps rev sen sens sfc sgt sr st supt surg
    """.split()
)

#: Abbreviations that are usually followed by a number ("p. 55", "No. 7", "fig. 3").
NUMERIC = frozenset(
    """
    art arts ch chap col cols eq eqs fig figs no nos nr n° para pg pp p sec secs tab vol vols
    """.split()
)

#: Other abbreviations: a lower-case word after them continues the sentence, a capital may not.
GENERAL = frozenset(
    """
    a.d abbr acad adj adv al apr approx assn assoc aug ave b.c bldg blvd bros ca cal cf cit co
    comm corp cont dec dept dist div ed eds e.g esp est et etc ex exec feb fri ft gal govt hr hrs
    i.e inc incl intl jan jr jul jun lb lbs ltd mar max med mfg mgr min misc mon mph mr mrs ms nov
    oct orig oz pl pop pt qt rd ref resp sat sep sept sq st stat sun tel thu thurs tue tues univ
    usu v vs wed wk yr yrs
    """.split()
)

#: Abbreviations that never end a sentence whatever follows (they introduce what comes next).
NEVER_FINAL = frozenset({"e.g", "i.e", "cf", "vs", "viz"})

#: Words that commonly open an English sentence. After a multi-period abbreviation such as
#: "U.S.", a capital that is one of these starts a new sentence; another capital ("U.S.
#: Government") continues the current one.
SENTENCE_STARTERS = frozenset(
    """
    a after all also although an and another any are as at because before both but by can could
    did do does during each either even every few for from had has have he her here hers him his
    how however i if in is it its let many may me meanwhile more most much my neither no none nor
    not now of on once one only or other our perhaps several she should since so some such than
    that the their them then there these they this those though thus to today too under unless
    until upon was we were what when where whether which while who whom whose why will with would
    yesterday yet you your mr mrs ms dr prof
    """.split()
)
