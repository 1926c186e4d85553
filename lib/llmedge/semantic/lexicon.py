"""Word lists the near-miss guards use: general English, not tuned to any example.

Kept apart from `guards.py` so the rules read as rules. Every list is small and domain-neutral: function
words, question scaffolding, negation, common opposites, number words, units and common abbreviations.
"""

from __future__ import annotations


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


# Function words: they carry grammar, not the question being asked.
STOPWORDS: frozenset[str] = _words(
    """
    a an the and or but if then of to in on at by for with from into onto over under about as is are
    was were be been being am do does did doing done have has had having i me my mine myself we our
    ours us you your yours yourself he him his she her hers it its itself they them their theirs
    this that these those there here who whom whose which what when where why how whether than so
    such too very can could would should shall will may might must just also only even still yet
    ever again all any some each every both either few more most much many other another same own
    lot lots one ones up out off s t d ll m re ve o y vs versus via per e g eg ie etc
    aboard amid among around behind beneath beside besides beyond despite near since through
    throughout till toward towards underneath until upon within although though because whereas
    however therefore thus hence anyway perhaps maybe probably while whilst whenever wherever whatever
    whichever whoever
    """
)

# Scaffolding of a request: words that frame a question without changing what is asked
# ("how do I…", "can you explain…", "what's the best way to…", "pls", "the reason", "the name of"),
# and hedges ("roughly", "fully"): numbers and their units are compared by their own rule.
FRAMING_WORDS: frozenset[str] = _words(
    """
    please pls plz thanks thank hi hello hey okay ok explain explanation tell know want need like
    way ways best good right proper correct exactly actually really basically simply simple quick
    quickly possible possibly certain given guess wonder wondering help question questions answer
    mean meaning thing things something anything stuff kind sort type someone somebody anyone people
    person work works working whats hows wheres whos im ive id youre dont doesnt cant isnt get got
    go going give show let say tell use using used find make makes made happen happens happening
    convert describe define definition difference different differ differs between compare example examples
    common typical typically usually generally general overall available real specific particular
    step steps required roughly approximately nearly almost quite pretty rather fairly somewhat totally
    completely entirely fully precisely literally essentially reason reasons name figure learn
    everyone everybody everything somewhere anywhere everywhere kindly
    """
)

# Words (and contraction stems) that negate what follows.
NEGATIONS: frozenset[str] = _words(
    """
    not no never without none nothing nobody nowhere neither nor cannot cant dont doesnt didnt isnt
    arent wasnt werent wont wouldnt shouldnt couldnt hasnt havent hadnt mustnt neednt aint
    """
)

# Common opposites: a query that says one where the stored prompt says the other asks something else.
_OPPOSITE_PAIRS: frozenset[str] = _words(
    """
    enable/disable enabled/disabled increase/decrease increasing/decreasing rise/fall raise/lower
    up/down add/remove buy/sell buying/selling long/short agree/disagree before/after min/max
    minimum/maximum hot/cold warm/cool active/passive import/export upload/download encrypt/decrypt
    encode/decode open/close start/stop win/lose push/pull more/less higher/lower high/low
    first/last inside/outside input/output upper/lower ascending/descending freeze/unfreeze
    lock/unlock show/hide allow/deny accept/reject include/exclude true/false positive/negative
    markup/markdown gain/loss profit/loss credit/debit deposit/withdraw lend/borrow asset/liability
    inflation/deflation summer/winter spring/autumn north/south east/west left/right men/women
    man/woman male/female adult/child adults/children old/new oldest/newest young/old big/small
    large/small fast/slow faster/slower cheap/expensive best/worst good/bad safe/dangerous
    legal/illegal sync/async synchronous/asynchronous static/dynamic public/private client/server
    frontend/backend read/write send/receive sender/recipient install/uninstall connect/disconnect
    subscribe/unsubscribe login/logout plus/minus multiply/divide multiplied/divided sum/difference
    odd/even wet/dry raw/cooked fresh/frozen empty/full day/night morning/evening arrival/departure
    arrive/depart inbound/outbound above/below over/under success/failure pass/fail always/never
    all/none same/different similar/different with/without
    """
)


def _opposites() -> dict[str, frozenset[str]]:
    table: dict[str, set[str]] = {}
    for pair in _OPPOSITE_PAIRS:
        left, right = pair.split("/")
        table.setdefault(left, set()).add(right)
        table.setdefault(right, set()).add(left)
    return {word: frozenset(others) for word, others in table.items()}


OPPOSITES: dict[str, frozenset[str]] = _opposites()

# Prefixes that turn a word into its opposite ("freeze"/"unfreeze", "agree"/"disagree").
NEGATING_PREFIXES: tuple[str, ...] = ("un", "dis", "non", "in", "im", "il", "ir", "de", "anti")

# Cardinal and ordinal number words. "one" and "first"/"second" are left out on purpose: in requests
# they are mostly articles or idioms ("in one command", "for the first time", "give me a second").
NUMBER_WORDS: dict[str, int] = {
    "zero": 0,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
    "hundred": 100,
    "thousand": 1000,
    "million": 1_000_000,
    "billion": 1_000_000_000,
    "dozen": 12,
    "third": 3,
    "fourth": 4,
    "fifth": 5,
    "sixth": 6,
    "seventh": 7,
    "eighth": 8,
    "ninth": 9,
    "tenth": 10,
    "twice": 2,
    "double": 2,
    "triple": 3,
    "half": 2,
}

# Spellings of one unit share a canonical name, so "5 km" matches "5 kilometres" but not "5 miles".
UNITS: dict[str, str] = {
    **dict.fromkeys(["km", "kms", "kilometer", "kilometers", "kilometre", "kilometres"], "km"),
    **dict.fromkeys(["mi", "mile", "miles"], "mile"),
    **dict.fromkeys(["m", "meter", "meters", "metre", "metres"], "m"),
    **dict.fromkeys(["cm", "centimeter", "centimeters", "centimetre", "centimetres"], "cm"),
    **dict.fromkeys(["mm", "millimeter", "millimeters", "millimetre", "millimetres"], "mm"),
    **dict.fromkeys(["ft", "foot", "feet"], "ft"),
    **dict.fromkeys(["in", "inch", "inches"], "inch"),
    **dict.fromkeys(["yd", "yard", "yards"], "yard"),
    **dict.fromkeys(["kg", "kgs", "kilo", "kilos", "kilogram", "kilograms"], "kg"),
    **dict.fromkeys(["g", "gram", "grams", "gr"], "g"),
    **dict.fromkeys(["mg", "milligram", "milligrams"], "mg"),
    **dict.fromkeys(["lb", "lbs", "pound", "pounds"], "lb"),
    **dict.fromkeys(["oz", "ounce", "ounces"], "oz"),
    **dict.fromkeys(["l", "liter", "liters", "litre", "litres"], "l"),
    **dict.fromkeys(["ml", "milliliter", "milliliters", "millilitre", "millilitres"], "ml"),
    **dict.fromkeys(["gal", "gallon", "gallons"], "gallon"),
    **dict.fromkeys(["cup", "cups"], "cup"),
    **dict.fromkeys(["c", "celsius", "centigrade"], "celsius"),
    **dict.fromkeys(["f", "fahrenheit"], "fahrenheit"),
    **dict.fromkeys(["kelvin"], "kelvin"),
    **dict.fromkeys(["s", "sec", "secs", "second", "seconds"], "second"),
    **dict.fromkeys(["min", "mins", "minute", "minutes"], "minute"),
    **dict.fromkeys(["h", "hr", "hrs", "hour", "hours"], "hour"),
    **dict.fromkeys(["day", "days"], "day"),
    **dict.fromkeys(["week", "weeks"], "week"),
    **dict.fromkeys(["month", "months"], "month"),
    **dict.fromkeys(["year", "years", "yr", "yrs"], "year"),
    **dict.fromkeys(["percent", "percentage", "%", "pct"], "percent"),
    **dict.fromkeys(["dollar", "dollars", "usd", "$"], "usd"),
    **dict.fromkeys(["euro", "euros", "eur", "€"], "eur"),
    **dict.fromkeys(["gb", "gigabyte", "gigabytes"], "gb"),
    **dict.fromkeys(["mb", "megabyte", "megabytes"], "mb"),
    **dict.fromkeys(["mah"], "mah"),
    **dict.fromkeys(["wh"], "wh"),
    **dict.fromkeys(["mph"], "mph"),
    **dict.fromkeys(["kmh", "kph"], "kmh"),
}

# Abbreviations and spelling variants rewritten to one form before comparison (whole-word, lowercased).
# Multi-word phrases are joined so that "operating system" and "OS" become one token.
CANONICAL_PHRASES: dict[str, str] = {
    "js": "javascript",
    "ts": "typescript",
    "py": "python",
    "golang": "go",
    "k8s": "kubernetes",
    "db": "database",
    "dbs": "databases",
    "repo": "repository",
    "repos": "repositories",
    "env": "environment",
    "config": "configuration",
    "args": "arguments",
    "arg": "argument",
    "params": "parameters",
    "param": "parameter",
    "func": "function",
    "dir": "directory",
    "dict": "dictionary",
    "dedupe": "remove duplicates",
    "dedup": "remove duplicates",
    "dicts": "dictionaries",
    "info": "information",
    "app": "application",
    "apps": "applications",
    "msg": "message",
    "temp": "temperature",
    "approx": "approximately",
    "sqrt": "square root",
    "w/": "with",
    "w/o": "without",
    "u": "you",
    "ur": "your",
    "r": "are",
    "b4": "before",
    "thx": "thanks",
    "operating system": "os",
    "united states": "usa",
    "united states of america": "usa",
    "america": "usa",
    "american": "usa",
    "americans": "usa",
    "united kingdom": "uk",
    "great britain": "uk",
    "britain": "uk",
    "british": "uk",
    "grown up": "adult",
    "grown-up": "adult",
    "kid": "child",
    "kids": "children",
    "colour": "color",
    "colours": "colors",
    "fibre": "fiber",
    "centre": "center",
    "favourite": "favorite",
    "organise": "organize",
    "realise": "realize",
    "licence": "license",
    "behaviour": "behavior",
    "cheque": "check",
    # Other ways of asking "why" (the question word itself is a stopword).
    "how come": "why",
    "for what reason": "why",
    "for what reasons": "why",
}

# A short list of everyday synonyms in request phrasing. Each group counts as one word.
SYNONYM_GROUPS: tuple[frozenset[str], ...] = tuple(
    frozenset(group.split())
    for group in (
        "remove delete erase",
        "change edit update modify alter",
        "create generate",
        "begin start",
        "finish end",
        "large big",
        "small little tiny",
        "fast quick rapid",
        "buy purchase",
        "allowed permitted",
        "allow permit",
        "option choice",
        "price cost",
        "reason cause",
        "symptom sign",
        "shop store",
        "car auto vehicle",
        "photo picture",
        "movie film",
        "fix solve repair resolve",
        "doctor physician",
        "check test verify",
        "exist present",
        "stop halt abort terminate",
        "represent symbolize symbolise signify",
        "secure securely safe safely",
        "ship deliver",
        "country nation",
        "taste flavor flavour",
        "luggage baggage suitcase",
        "fly flight flying",
        "require need",
        "use utilize utilise",
        "enough sufficient",
        "method approach technique",
    )
)
