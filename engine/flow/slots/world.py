"""What a receptionist knows of the world: a parakeet is a bird, Diwali a religious holiday.

Callers name the thing, not the option: "he's a parakeet" to "what kind of animal?", "it's
Yom Kippur" to "why is she out?", "he ate a bar of dark chocolate" to a vet's list of visits.
Each *kind* below holds concrete things said in everyday words (over plain lower-case text, as
:func:`engine.flow.slots.base.plain` makes it) and the category words an option is likely to
be called by ("bird", "religious", "emergency"). An option is that kind's when one of its
phrases (its name or a synonym) is one of those words, alone or before a generic word
("religious holiday", "sick visit"); the words are tried in tiers, most specific first
("sick" before "medical"), and a tier that fits two options of a slot settles nothing.

The tables are curated, short and in English; each says where its scope ends. Of the packages
on PyPI, ``holidays`` comes closest, and it computes public-holiday dates per country, with no
faith or category to read; we found none that ships pet species, symptoms or what a pet must
not swallow for offline use, so the tables are kept here. They are compiled once, on first
use, one pattern per kind.

What this module decides is only *which option the words are an instance of*; whether that
reading is used (only when the option list names no option itself, never over an option the
caller named, unasked only beside another value) is :mod:`.answers` and
:mod:`engine.flow.understanding`'s business.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache, lru_cache

# -- holidays -------------------------------------------------------------------------------------

# Religious holidays and observances of several faiths (Hindu, Jain, Sikh, Jewish, Muslim,
# Christian, Buddhist, Baha'i), as families name them; a rite of one child (a bar mitzvah, a
# first communion) counts too. Not here: civic holidays (Thanksgiving, Memorial Day) and a bare
# weekday word ("Lent" is also a verb).
_RELIGIOUS = (
    # Hindu, Jain, Sikh
    "diwali", "deepavali", "divali", "holi", "navratri", "navaratri", "dussehra", "dasara",
    "durga puja", "ganesh chaturthi", "janmashtami", "krishna janmashtami", "raksha bandhan",
    "rakhi", "pongal", "onam", "makar sankranti", "maha shivratri", "shivratri", "ram navami",
    "karva chauth", "chhath puja", "vaisakhi", "baisakhi", "gurpurab", "guru nanak jayanti",
    "guru nanak's birthday", "bandi chhor divas", "mahavir jayanti", "paryushana", "paryushan",
    # Jewish
    "yom kippur", "rosh hashanah", "rosh hashana", "rosh hoshana", "the high holy days",
    "the high holidays", "passover", "pesach", "the seder", "sukkot", "succot", "sukkos",
    "shavuot", "shavuos", "simchat torah", "shemini atzeret", "purim", "hanukkah", "chanukah",
    "hanukah", "tisha b'av", "tisha bav", "lag b'omer", "lag baomer", "shabbat", "shabbos",
    "bar mitzvah", "bat mitzvah", "bris",
    # Muslim
    "eid", "eid al fitr", "eid ul fitr", "eid al adha", "eid ul adha", "bakrid", "ramadan",
    "ramzan", "laylat al qadr", "mawlid", "milad", "ashura", "islamic new year", "hajj",
    "umrah",
    # Christian
    "christmas", "christmas eve", "orthodox christmas", "easter", "easter sunday",
    "easter monday", "orthodox easter", "good friday", "holy thursday", "maundy thursday",
    "holy week", "holy saturday", "palm sunday", "ash wednesday", "pentecost", "ascension day",
    "the epiphany", "feast of the epiphany", "three kings day", "three kings' day",
    "dia de reyes", "all saints day", "all saints' day", "all souls day", "all souls' day",
    "feast of the assumption",
    "assumption day", "immaculate conception", "first communion", "first holy communion",
    "baptism", "christening",
    # Buddhist, Baha'i
    "vesak", "wesak", "buddha day", "buddha's birthday", "buddha purnima", "bodhi day",
    "ridvan", "the bab's birthday",
)  # fmt: skip
# Going to a house of worship: "we'll be at church", "going to mass".
_WORSHIP = (
    r"going to (?:church|mass|the mosque|mosque|synagogue|temple|shul)|at mass"
    r"|(?:church|mosque|synagogue|temple) services?"
)

# Cultural and national festivals a family keeps, without a faith of their own. Not here:
# public holidays a school closes for anyway (New Year's Day, Independence Day).
_CULTURAL = (
    "lunar new year", "chinese new year", "tet", "seollal", "mid autumn festival",
    "moon festival", "nowruz", "norooz", "navruz", "persian new year", "kwanzaa", "juneteenth",
    "dia de los muertos", "dia de muertos", "day of the dead", "st patrick's day",
    "saint patrick's day", "cinco de mayo", "hmong new year", "songkran",
)  # fmt: skip

# A holiday after one of these words is a day ("the day after Diwali", "back by Easter"), not
# what the caller is doing.
_TIME_BEFORE = re.compile(
    r"\b(?:before|after|until|till|til|since|by|around|from|past|following|the (?:day|week"
    r"|weekend|monday|friday) (?:of|before|after))(?: the)? $"
)

# -- animals --------------------------------------------------------------------------------------

# Pets and farm animals by species or breed, as owners say them. Breeds that are also other
# words ("boxer", "maltese", "persian", "lab" alone) are left out, or kept only in a phrase
# ("chocolate lab", "persian cat"). A rat is no rat in "rat poison".
_DOGS = (
    "labrador", "labradors", "chocolate lab", "yellow lab", "black lab", "golden retriever",
    "retriever", "german shepherd", "australian shepherd", "poodle", "labradoodle",
    "goldendoodle", "bernedoodle", "doodle", "cockapoo", "cavapoo", "maltipoo", "beagle",
    "bulldog", "french bulldog", "frenchie", "pug", "chihuahua", "dachshund", "wiener dog",
    "husky", "siberian husky", "malamute", "samoyed", "corgi", "shih tzu", "yorkie",
    "yorkshire terrier", "terrier", "jack russell", "westie", "scottie", "pit bull", "pitbull",
    "staffy", "rottweiler", "doberman", "great dane", "mastiff", "collie", "border collie",
    "sheltie", "sheepdog", "schnauzer", "cocker spaniel", "springer spaniel", "spaniel",
    "cavalier king charles", "pomeranian", "greyhound", "whippet", "hound", "basset hound",
    "bloodhound", "dalmatian", "akita", "shiba inu", "shiba", "bernese", "bernese mountain dog",
    "saint bernard", "st bernard", "weimaraner", "vizsla", "bichon", "havanese", "papillon",
    "cattle dog", "heeler", "mutt", "pooch", "doggo", "lab mix",
)  # fmt: skip
_CATS = (
    "tabby", "siamese", "persian cat", "maine coon", "ragdoll", "sphynx", "bengal cat",
    "british shorthair", "shorthair", "longhair", "calico", "tortoiseshell", "tortie",
    "tomcat", "moggy", "kitties",
)  # fmt: skip
_BIRDS = (
    "parakeet", "parakeets", "budgie", "budgies", "budgerigar", "parrot", "parrots",
    "cockatiel", "cockatiels", "cockatoo", "macaw", "african grey", "lovebird", "lovebirds",
    "canary", "canaries", "finches", "zebra finch", "conure", "lorikeet", "pigeon",
    "mynah", "myna bird",
)  # fmt: skip
_POULTRY = (
    "hen", "hens", "rooster", "bantam", "backyard chicken", "backyard chickens", "pet chicken",
    "pet duck", "duckling", "ducklings", "gosling",
)  # fmt: skip
_RABBITS = ("bunny", "bunnies", "lop", "lop eared", "lionhead", "dwarf rabbit", "hare")
_SMALL_MAMMALS = (
    "hamster", "hamsters", "guinea pig", "guinea pigs", "gerbil", "gerbils", "mouse", "mice",
    "rat", "rats", "chinchilla", "ferret", "ferrets", "hedgehog", "degu", "sugar glider",
)  # fmt: skip
_REPTILES = (
    "lizard", "gecko", "leopard gecko", "bearded dragon", "iguana", "chameleon", "skink",
    "snake", "corn snake", "ball python", "python", "boa", "turtle", "turtles", "tortoise",
)  # fmt: skip
_AMPHIBIANS = ("frog", "toad", "axolotl", "salamander", "newt")
_FISH = (
    "goldfish", "betta", "betta fish", "guppy", "guppies", "koi", "tetra", "tetras",
    "angelfish", "cichlid", "clownfish",
)  # fmt: skip
_HORSES = ("pony", "ponies", "mare", "stallion", "gelding", "foal", "colt", "filly", "donkey")
_LIVESTOCK = (
    "cow", "cows", "cattle", "heifer", "goat", "goats", "sheep", "ewe", "pig",
    "pigs", "piglet", "potbellied pig", "pot bellied pig", "alpaca", "llama",
)  # fmt: skip

# -- illness ---------------------------------------------------------------------------------------

# Symptoms and common ailments of a person or a pet, as a parent or an owner says them. Not
# here: a symptom any option already names, a reading or a check ("a temperature check", "the
# engine temperature"), nor injuries (a sprain is no illness).
_SYMPTOMS = (
    r"(?:running|has|had|have|got|with|spiked) (?:a |an )?(?:high |slight |bit of a |little )?"
    r"(?:temperature|temp)\b(?! (?:check|reading|sensor|gauge|light))",
    r"a (?:temperature|temp) of",
    r"feverish",
    r"sore throat", r"throat(?:'s| is)? (?:hurts|hurting|sore|red|all red|scratchy|raw)",
    r"strep", r"tonsillitis",
    r"ear ?ache", r"ear infection", r"ears? (?:hurts?|hurting)",
    r"(?:stomach|tummy|belly) ?ache", r"upset (?:stomach|tummy)", r"stomach flu",
    r"(?:stomach|tummy) (?:hurts|is hurting|is upset)",
    r"headache", r"migraine", r"head hurts",
    r"coughing", r"(?:a|bad|nasty|the) cough(?! (?:syrup|drops|medicine))", r"sniffles",
    r"(?:runny|stuffy|stuffed up) nose",
    r"congested", r"congestion", r"chills", r"body aches", r"achy",
    r"nausea", r"nauseous", r"queasy", r"puking", r"threw up", r"been sick", r"diarrhoea",
    r"the runs",
    r"(?:a|broke out in a|broken out in a) rash", r"hives", r"pink ?eye", r"conjunctivitis",
    r"chicken ?pox", r"measles", r"mumps", r"hand foot and mouth", r"rsv", r"pneumonia",
    r"bronchitis", r"sinus infection", r"norovirus", r"food poisoning", r"asthma attack",
    r"(?:caught|picked up|has|got) (?:a|the) bug", r"bug going around",
    r"under the weather", r"feeling (?:poorly|rough|crummy|awful|terrible)",
    r"(?:is|she's|he's|been|a bit|quite) poorly",
    r"lost (?:his|her|my|their) voice", r"dizzy", r"fainted",
    # pets
    r"(?:plucking|pulling|pulling out|picking) (?:out )?(?:his |her |its |their )?feathers",
    r"losing (?:his |her |its |their )?(?:fur|hair|feathers)", r"(?:hair|fur) loss",
    r"bald (?:spot|spots|patch|patches)", r"hot ?spots?", r"ear mites",
    r"(?:scratching|itching|licking|chewing) (?:himself|herself|itself|at (?:his|her|its) \w+)"
    r"(?: (?:raw|constantly|nonstop|non stop|all the time))?",
    r"itchy", r"(?:has|got|have) worms", r"wheezing", r"runny eyes", r"watery eyes",
    r"goopy eyes?", r"(?:eye|ear|nasal|green|yellow|smelly) discharge",
    r"discharge from (?:his |her |its |the )?(?:eyes?|ears?|nose)", r"won't eat",
    r"off (?:his|her|its|their) food",
    r"drinking (?:a lot|so much|more)", r"peeing (?:a lot|blood|everywhere)",
    r"blood in (?:his |her |its |the )?(?:stool|urine|pee|poop)", r"a lump",
)  # fmt: skip

# -- emergencies -----------------------------------------------------------------------------------

# Things poisonous or dangerous to swallow for a pet (dogs, cats, birds), eaten, chewed, licked
# or drunk: "he ate a whole bar of dark chocolate", "she got into the rat poison". The thing
# alone is no emergency ("a chocolate lab", "chocolate cake for her birthday"). Not here: what
# is dangerous only in large amounts, which a receptionist would ask about (salt, bread). What
# people eat is the same words ("the kids ate the chocolate cake"), so only an option that says
# poisoning or eating something is this kind: a bare "urgent" (a bakery's rush order) is not.
_TOXINS = (
    "chocolate", "cocoa", "brownies", "brownie", "grapes", "grape", "raisins", "raisin",
    "currants", "xylitol", "sugar free gum", "gum", "onions", "onion", "garlic", "chives",
    "leeks", "macadamia nuts", "macadamias", "avocado", "coffee grounds", "coffee beans",
    "caffeine pills", "energy drink", "alcohol", "beer", "wine", "vodka",
    "ibuprofen", "advil", "motrin", "tylenol", "acetaminophen", "paracetamol", "aspirin",
    "naproxen", "aleve", "my pills", "my meds", "my medication", "my medicine", "our pills",
    "bottle of pills", "the pills", "antidepressants",
    "adderall", "rat poison", "mouse poison", "rat bait", "rodenticide", "poison",
    "slug pellets", "snail bait", "antifreeze", "bleach", "cleaning products", "detergent",
    "laundry pod", "laundry pods", "dishwasher pod", "fertilizer", "pesticide",
    "insecticide", "weed killer", "lilies", "lily", "sago palm", "oleander", "azalea",
    "tulip bulbs", "daffodils", "mushrooms", "marijuana", "weed", "edibles", "an edible",
    "cannabis", "nicotine", "cigarettes", "cigarette butts", "vape", "nicotine gum",
    "batteries", "battery", "button battery", "a sock", "socks", "a piece of string",
    "some string", "yarn", "hair tie", "hair ties", "tinsel",
    "dental floss", "corn cob", "cooked bones", "chicken bones", "fish hook", "fishhook",
    "needle", "coins", "a penny", "magnets", "gorilla glue", "bread dough", "yeast dough",
    "play doh", "playdough", "something toxic", "something poisonous",
)  # fmt: skip
# Swallowed, in the same clause: a few words between ("ate a whole bar of dark chocolate"); not
# what a pet will not or is to swallow ("he won't swallow the pills", "how to give the pills").
_SWALLOWED = (
    r"(?<!won't )(?<!not )(?<!didn't )(?<!doesn't )(?<!never )(?<!can't )(?<!to )"
    r"(?:ate|eaten|eat|eats|eating|swallowed|swallow|swallowing|chewed|chewed up|chewing"
    r"|licked|licking|drank|drunk|drinking|ingested|gobbled|gobbled up|scarfed|scarfed down"
    r"|wolfed|wolfed down|got into|gotten into|getting into|snacked on|munched)"
    r"(?: (?!(?:and|but|then|so|because)\b)[\w']+){0,6}? "
)
# What no owner waits with: "she's having a seizure", "he was hit by a car".
_ACUTE = (
    r"(?:having|had|has) (?:a )?seizures?", r"seizing", r"convulsing", r"collapsed",
    r"(?:can't|cannot|isn't|not) breathing?", r"(?:can't|cannot) breathe",
    r"struggling to breathe", r"unconscious", r"(?:won't|will not) wake up", r"unresponsive",
    r"bleeding (?:a lot|heavily|badly|everywhere|won't stop)", r"won't stop bleeding",
    r"(?:hit|run over) by a (?:car|truck)", r"(?:bitten|bit) by a snake", r"snake ?bite",
    r"(?:belly|stomach) (?:is )?(?:swollen|bloated|hard)", r"bloat",
    r"trying to (?:vomit|throw up) (?:but|and) nothing", r"heat ?stroke",
    r"(?:can't|cannot) (?:walk|pee|urinate)", r"straining to (?:pee|urinate)",
)  # fmt: skip

# -- travel ----------------------------------------------------------------------------------------

# Where families go on a trip, said after a word of going ("we're going to Disney", "a week in
# Cancun"); a place alone is no trip ("my parakeet's name is Disney"). Places a day out also
# reaches (the zoo, a museum) and Disney on Ice (a show) are not trips.
_PLACES = (
    "disney", "disney world", "disneyland", "walt disney world", "disney cruise", "epcot",
    "universal", "universal studios", "legoland", "seaworld", "sea world", "six flags",
    "orlando", "florida", "hawaii", "maui", "cancun", "mexico", "the caribbean", "puerto rico",
    "jamaica", "the bahamas", "bahamas", "aruba", "costa rica", "vegas", "las vegas",
    "new york", "california", "the beach", "the shore", "the coast", "the lake",
    "the lake house", "the mountains", "the cabin", "the cottage", "the islands", "europe",
    "paris", "london", "italy", "spain", "france", "greece", "ireland", "england", "germany",
    "japan", "china", "india", "pakistan", "the philippines", "korea", "vietnam", "canada",
    "brazil", "colombia", "israel", "nigeria", "ghana", "the grand canyon", "yellowstone",
    "niagara falls", "the outer banks", "myrtle beach", "cape cod", "the poconos", "tahoe",
    "colorado", "aspen", "vail", "the keys", "key west", "nashville", "chicago", "dc",
    "washington dc", "the alps",
)  # fmt: skip
_GOING = (
    r"(?:(?:going|go|goes|heading|headed|head|flying|fly|flew|driving|drive|travell?ing"
    r"|travel|taking (?:him|her|them|the kids|the family)|take (?:him|her|them|the kids)"
    r"|off)(?: down| up| out| over| back)? to|trip to|vacation (?:in|at|to)|holiday (?:in|at)"
    r"|visiting|away (?:in|at)|a week (?:in|at)|spending (?:a|the) week (?:in|at))(?: the)? "
)
# Words that are a trip on their own.
_TRIPS = (
    r"(?:a|on a|the|our|family) cruise", r"cruise ship", r"road trip", r"ski trip",
    r"camping trip", r"going camping", r"(?:going|gone) skiing", r"out of town",
    r"out of state", r"out of the country", r"abroad", r"overseas", r"catching a flight",
    r"(?:our|a|the|an early) flight", r"flying out",
    r"(?:we're|we are|we'll be|they're|they are|i'm) going away", r"spring break trip",
    r"(?:visit|visiting|see|seeing) (?:family|relatives|the grandparents|(?:my|our|his|her)"
    r" (?:family|relatives|grandparents|grandma|grandpa|parents)) (?:in|out of|back in"
    r"|overseas|abroad|back home)",
)  # fmt: skip

# -- a school day ----------------------------------------------------------------------------------

# A time of the school day, said in words or figures ("at ten", "by 10 30", "after lunch").
_CLOCK = (
    r"(?:\d{1,2}(?: \d\d)?|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)"
    r"(?: (?:thirty|fifteen|forty five|o'clock|oclock|ish))?(?: ?(?:a m|p m|am|pm))?"
)
_SCHOOL_TIME = (
    rf"(?:{_CLOCK}|noon|midday|lunch|lunchtime|recess|(?:first|second|third|fourth|fifth|1st"
    r"|2nd|3rd|4th|5th) period)"
)
_HIM = r"(?:him|her|them|(?:my |our )?\w+)"
# The school day's words follow: arriving after it began ("she'll be in after that", "there by
# lunch"), leaving before it ends ("I'm picking him up at 1"), or missing all of it ("she won't
# be in at all today"). Not here: a half day said alone ("just the morning" is either).

# Arriving at a time: "she'll be in after that", "there by lunch", "in around ten". "She'll be
# in at 8" may be the usual time; dropped off or brought in at a time is not.
_ARRIVE = (
    r"(?:be (?:in|there|at school|in school)|(?:come|coming|get|getting|make it|arrive|arriving)"
    r"(?: in| into school| to school| at school| there)?) (?:by|after|around|about|in time for"
    r"|just after|right after)"
)
_BROUGHT = (
    rf"(?:drop(?:ping)? {_HIM} off|bring(?:ing)? {_HIM}(?: in)?) (?:at|by|after|around|about)"
)
_LATE = (
    rf"(?:{_ARRIVE}|{_BROUGHT})(?: about| around)? (?:{_SCHOOL_TIME}|that|the appointment|it)",
    rf"(?:won't|will not|not|isn't|can't) (?:be |come |coming |get |make it )?(?:in|there|to"
    rf" school|at school)? ?(?:until|till|til|before)(?: after)? {_SCHOOL_TIME}",
    r"miss(?:ing|es)? (?:the|all|most of the) morning", r"out (?:for )?the morning",
)  # fmt: skip
_EARLY = (
    rf"pick(?:ing|s)? {_HIM} up (?:at|around|about|by|before|after|from school at) "
    rf"{_SCHOOL_TIME}",
    rf"(?:leave|leaving|leaves|sign(?:ing)? {_HIM} out|take {_HIM} out|taking {_HIM} out"
    rf"|pull(?:ing)? {_HIM} out|collect(?:ing)? {_HIM}|(?:go|going|head|heading) home) (?:at"
    rf"|around|about|before|after|by) {_SCHOOL_TIME}",
    rf"(?:won't|will not|not) (?:be )?(?:back|there|in) (?:after(?! all\b)|for the rest of the"
    rf" day)"
    rf"(?: {_SCHOOL_TIME})?",
    r"miss(?:ing|es)? the afternoon", r"out (?:for )?the afternoon",
)  # fmt: skip
_WHOLE_DAY = (
    r"(?:won't|will not|not|isn't|is not|can't|cannot) (?:be )?(?:coming |going )?(?:in|coming"
    r"|going|come in|make it(?: in)?|there|at school|to school)(?: to school)?"
    r"(?: at all(?: today| tomorrow)?| today| tomorrow| after all)"
    r"(?! (?:until|till|til|before|after|by)\b)",
    rf"(?:staying|stay|stays|keeping {_HIM}|keep {_HIM}) home",
    r"home sick", r"miss(?:ing|es)? school(?: today)?",
)  # fmt: skip


# -- kinds -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Kind:
    """One kind of thing: its category words, in tiers, and how its things are said."""

    name: str
    tiers: tuple[frozenset[str], ...]  # what an option calls the kind, most specific first
    said: str  # a regular expression of the things, over plain lower-case words
    timed: bool = False  # a day: "after Diwali" is the time of something, not this kind
    animal: bool = False  # a kind of animal: "the dog's name" is a pet's


def _words(phrases: str) -> frozenset[str]:
    """Category words, comma-separated: "religious, religion, holy day"."""
    return frozenset(phrase.strip() for phrase in phrases.split(","))


def _plain(things: Iterable[str]) -> str:
    return "|".join(re.escape(thing) for thing in sorted(things, key=len, reverse=True))


def _species(name: str, words: str, things: Iterable[str]) -> Kind:
    return Kind(name, (_words(words),), _plain(things), animal=True)


KINDS: tuple[Kind, ...] = (
    Kind(
        "religious holiday",
        (_words("religious, religion, faith, holy day, spiritual, worship"),),
        f"{_plain(_RELIGIOUS)}|{_WORSHIP}",
        timed=True,
    ),
    Kind("cultural holiday", (_words("cultural, culture, heritage"),), _plain(_CULTURAL), True),
    _species("dog", "dog, dogs, canine, puppy", _DOGS),
    _species("cat", "cat, cats, feline, kitten", _CATS),
    _species("bird", "bird, birds, avian, pet bird", _BIRDS),
    _species("poultry", "poultry, fowl, chicken, chickens, backyard poultry", _POULTRY),
    _species("rabbit", "rabbit, rabbits, bunny", _RABBITS),
    Kind(
        "small mammal",
        (
            _words(
                "small mammal, small mammals, small animal, small animals, rodent, rodents,"
                " pocket pet, pocket pets, small pet, small pets"
            ),
        ),
        rf"(?:{_plain(_SMALL_MAMMALS)})(?! (?:poison|bait|trap|traps|terrier)\b)",
        animal=True,
    ),
    Kind(
        "reptile",
        (_words("reptile, reptiles, herp, herps"),),
        rf"(?<!by a )(?:{_plain(_REPTILES)})(?! ?bites?\b)",
        animal=True,
    ),
    _species("amphibian", "amphibian, amphibians", _AMPHIBIANS),
    _species("fish", "fish, aquatic, aquarium fish", _FISH),
    _species("horse", "horse, horses, equine", _HORSES),
    Kind(
        "livestock",
        (_words("livestock, farm animal, farm animals, large animal"),),
        rf"(?<!guinea )(?:{_plain(_LIVESTOCK)})",
        animal=True,
    ),
    Kind(
        "illness",
        (
            _words("sick, ill, illness, unwell, sickness, sick child, sick pet"),
            _words("medical, health"),
        ),
        "|".join(_SYMPTOMS),
    ),
    Kind(
        "poisoning",
        (
            _words(
                "poison, poisoned, poisoning, toxic, toxin, ingestion, ate something,"
                " swallowed something, toxic ingestion"
            ),
        ),
        rf"{_SWALLOWED}(?:{_plain(_TOXINS)})",
    ),
    Kind(
        "acute",
        (_words("emergency, urgent, urgent care, critical"), _words("medical")),
        "|".join(_ACUTE),
    ),
    Kind(
        "travel",
        (
            _words(
                "travel, travelling, traveling, trip, trips, vacation, vacations, holiday,"
                " holidays, getaway, family trip, family vacation"
            ),
        ),
        rf"{_GOING}(?:{_plain(_PLACES)})(?! on ice)|{'|'.join(_TRIPS)}",
    ),
    Kind(
        "late arrival",
        (
            _words(
                "late, late arrival, arriving late, arrive late, coming in late, coming late,"
                " late start, tardy, tardiness, late drop off"
            ),
        ),
        "|".join(_LATE),
    ),
    Kind(
        "early dismissal",
        (
            _words(
                "early dismissal, dismissal, early pickup, early pick up, pick up early,"
                " picking up early, leaving early, leave early, early departure, early release,"
                " going home early"
            ),
        ),
        "|".join(_EARLY),
    ),
    Kind(
        "whole day",
        (
            _words(
                "full day, all day, whole day, entire day, absent, absence, out all day,"
                " absent all day, full day absence"
            ),
        ),
        "|".join(_WHOLE_DAY),
    ),
)

# Words after an option's category word that leave it the same category: "sick visit",
# "religious holiday", "travel day".
_GENERIC = _words(
    "visit, visits, appointment, appointments, day, days, leave, absence, reason, reasons,"
    " related, issue, issues, problem, problems, holiday, holidays, observance, trip, call, case"
)


@cache
def _pattern(kind: Kind) -> re.Pattern[str]:
    # A thing may end in "'s" (is, has): "my parakeet's name", "her throat's all red".
    return re.compile(rf"(?<![\w'])(?:{kind.said})(?='s\b|(?![\w']))")


def _category(phrase: str) -> str:
    """An option's phrase without its generic last words ("religious holiday" -> "religious")."""
    words = phrase.split()
    while len(words) > 1 and words[-1] in _GENERIC:
        words.pop()
    if len(words) > 1 and words[0] in ("a", "an", "the"):
        words.pop(0)
    return " ".join(words)


Options = tuple[tuple[str, tuple[str, ...]], ...]
"""An enum slot's options: each canonical value with its phrases in plain lower case."""


@lru_cache(maxsize=256)
def readers(options: Options) -> tuple[tuple[Kind, str], ...]:
    """The kinds the slot's ``options`` name, each with the one option it is.

    A kind goes to the option the first tier of its words names; a tier that names two options
    names none (a kind read two ways is no answer). Built once per flow's options.
    """
    named = [(value, {*said, *map(_category, said)}) for value, said in options]
    found = []
    for kind in KINDS:
        for tier in kind.tiers:
            fits = [value for value, categories in named if categories & tier]
            if fits:
                if len(fits) == 1:
                    found.append((kind, fits[0]))
                break
    return tuple(found)


def world_hits(said: str, options: Options) -> list[tuple[int, int, str]]:
    """Where ``said`` names a thing of a kind an option is: (start, end, option).

    ``said`` is plain lower-case words. Every hit is returned, of every kind the options name;
    whether one option stands alone among them is the caller's to judge.
    """
    found = []
    for kind, option in readers(options):
        for match in _pattern(kind).finditer(said):
            start = match.start()
            if kind.timed and _TIME_BEFORE.search(said, max(0, start - 24), start):
                continue  # "the day after Diwali" is a day
            found.append((start, match.end(), option))
    return found


@cache
def pet_named() -> re.Pattern[str]:
    """An animal's possessive ending a text: "my parakeet's ", "the dog's " (a pet's name follows).

    Every species and kind word of the tables, and "pet"; searched case-insensitively.
    """
    animals = [
        *_DOGS, *_CATS, *_BIRDS, *_POULTRY, *_RABBITS, *_SMALL_MAMMALS, *_REPTILES,
        *_AMPHIBIANS, *_FISH, *_HORSES, *_LIVESTOCK, "pet",
        *(word for kind in KINDS if kind.animal for tier in kind.tiers for word in tier),
    ]  # fmt: skip
    return re.compile(rf"\b(?:{_plain(set(animals))})['\u2019]s $", re.IGNORECASE)


def warm_up() -> None:
    """Compile every kind's pattern now rather than on a caller's turn."""
    for kind in KINDS:
        _pattern(kind)
    pet_named()
