"""The facts of the generated RAG test documents, as templates.

Each `Kind` of fact has sentences that state it (one is drawn per fact) and questions that ask
for it in other words: synonyms, another word order, another grammatical form ("employs" →
"how many staff work"), so that a question is never a copy of its sentence. Every phrasing
of every question is asked. Slots (`{city}`, `{n}`) are filled per fact by `rag_corpus.py`;
the entity slots (a city, a pump model) necessarily appear in both, as they would in real use.
"""

from dataclasses import dataclass

__all__ = ["DOCUMENTS", "DocumentSpec", "Kind"]


@dataclass(frozen=True)
class Kind:
    name: str
    statements: tuple[str, ...]
    questions: tuple[str, ...]
    entities: str = ""
    """The slot that names what the fact is about (`city`, `model`, ...); "" for a one-off fact."""


@dataclass(frozen=True)
class DocumentSpec:
    name: str
    title: str
    pages: int
    kinds: tuple[Kind, ...]
    entities: dict[str, tuple[str, ...]]
    filler: tuple[str, ...]
    """Sentences on the document's subject that answer none of the questions."""


LOGISTICS = DocumentSpec(
    name="northwind-annual-report",
    title="Northwind Logistics - Annual Report 2025",
    pages=8,
    entities={"city": ("Rotterdam", "Lyon", "Gdansk", "Valencia")},
    kinds=(
        Kind(
            "headcount",
            (
                "The {city} warehouse employs {n} people across three shifts.",
                "A total of {n} employees are on the payroll of the {city} warehouse.",
            ),
            (
                "How many staff work at the {city} depot?",
                "What is the size of the workforce at the distribution centre in {city}?",
                "In {city}, how large is the team at our storage facility?",
            ),
            "city",
        ),
        Kind(
            "area",
            (
                "Floor space at the {city} site totals {n} square metres after the extension.",
                "After its extension the {city} site covers {n} square metres of floor space.",
            ),
            (
                "How big is the {city} facility?",
                "What surface does the building in {city} occupy?",
                "How much room is there inside the {city} depot?",
            ),
            "city",
        ),
        Kind(
            "opened",
            ("Operations in {city} began in {year}, when the first loading dock opened.",),
            (
                "When did the {city} location start operating?",
                "Since what year has the company been active in {city}?",
                "In which year was the {city} branch launched?",
            ),
            "city",
        ),
        Kind(
            "manager",
            ("{person} has run the {city} hub since the reorganisation.",),
            (
                "Who is in charge of the {city} site?",
                "Which person manages our {city} location?",
                "Who heads the {city} operation?",
            ),
            "city",
        ),
        Kind(
            "fleet",
            ("The group operates {n} trucks, of which {m} are electric.",),
            (
                "How many of our lorries are battery powered?",
                "How large is the vehicle fleet and how much of it runs on batteries?",
            ),
        ),
        Kind(
            "emissions",
            ("Carbon emissions fell by {pct} percent compared with the previous year.",),
            (
                "By how much did greenhouse gas output drop?",
                "What reduction in CO2 was achieved year on year?",
            ),
        ),
    ),
    filler=(
        "Demand for cross-border parcel services stayed strong through the autumn peak.",
        "The board thanks all colleagues for their commitment during a demanding year.",
        "Fuel prices remained volatile, which weighed on margins in the second quarter.",
        "Investments in warehouse automation continued according to plan.",
        "Customer service introduced a new ticketing system in the spring.",
        "Several long-standing contracts with retail clients were renewed for three years.",
        "The audit committee met four times and reviewed the internal controls.",
        "Safety training was extended to temporary staff and subcontractors.",
        "Our IT platform now tracks each pallet from intake to final delivery.",
        "Inventory accuracy improved thanks to regular cycle counts.",
        "The outlook for the coming year remains cautiously optimistic.",
        "Partnerships with rail operators reduced the number of long-haul road trips.",
        "Staff turnover in the warehouses was discussed with the works council.",
        "New racking systems were installed in two of the larger depots.",
        "The company plans to recruit more drivers in the coming months.",
        "Energy use of the buildings is reported in the sustainability annex.",
        "Site managers met in November to share best practices.",
        "A pilot with autonomous forklifts started in one distribution centre.",
        "Truck maintenance was moved to a central workshop.",
        "The annual general meeting approved the dividend proposal.",
        "Cyber security audits found no critical weaknesses.",
        "Seasonal workers were hired for the busy weeks before Christmas.",
        "The sales team opened offices to support clients in new markets.",
        "Delivery punctuality stayed above the contractual target.",
    ),
)

PUMP = DocumentSpec(
    name="aquaflow-pump-manual",
    title="AquaFlow Centrifugal Pumps - Technical Manual",
    pages=7,
    entities={"model": ("AquaFlow P-200", "AquaFlow P-400", "AquaFlow P-600")},
    kinds=(
        Kind(
            "flow",
            (
                "At full speed the {model} delivers {n} litres per minute.",
                "The rated output of the {model} is {n} litres per minute at full speed.",
            ),
            (
                "What is the maximum flow rate of the {model}?",
                "How much water can the {model} move each minute?",
                "What throughput does the {model} reach?",
            ),
            "model",
        ),
        Kind(
            "pressure",
            ("The {model} is rated for a maximum working pressure of {n} bar.",),
            (
                "How much pressure can the {model} withstand?",
                "What is the pressure limit of the {model}?",
                "Up to how many bar may the {model} be operated?",
            ),
            "model",
        ),
        Kind(
            "weight",
            (
                "Without fluid, the {model} weighs {n} kilograms.",
                "The empty {model} has a weight of {n} kilograms.",
            ),
            (
                "How heavy is the {model}?",
                "What is the dry mass of the {model}?",
                "How many kilos does the {model} come to?",
            ),
            "model",
        ),
        Kind(
            "power",
            ("A {n} kW electric motor drives the {model}.",),
            (
                "What is the power rating of the motor in the {model}?",
                "How strong is the engine of the {model}?",
            ),
            "model",
        ),
        Kind(
            "seal",
            ("Replace the mechanical seal every {n} operating hours.",),
            (
                "How often should the seal be changed?",
                "After how much running time is a new shaft seal needed?",
            ),
        ),
        Kind(
            "warranty",
            ("The manufacturer guarantees the pump for {n} years from delivery.",),
            ("How long is the warranty?", "For how many years is the equipment covered against defects?"),
        ),
        Kind(
            "temperature",
            ("Liquids between {a} and {b} degrees Celsius may be pumped.",),
            ("What temperature range can the pumped fluid have?", "How hot or cold may the water be?"),
        ),
        Kind(
            "noise",
            ("Sound pressure at a distance of one metre stays below {n} dB(A).",),
            ("How loud is the pump when running?", "What noise level does the unit produce?"),
        ),
    ),
    filler=(
        "Read all safety instructions before installing the unit.",
        "The pump housing is made of cast iron with an epoxy coating.",
        "Install the unit on a level, vibration-free foundation.",
        "Check the direction of rotation before the first start.",
        "Use only original spare parts supplied by the manufacturer.",
        "The control box must be connected by a qualified electrician.",
        "Never run the pump dry, even for a short time.",
        "Drain the casing completely if there is a risk of frost.",
        "Keep the suction line as short and straight as possible.",
        "The impeller is balanced in the factory and needs no adjustment.",
        "Dispose of worn parts according to local regulations.",
        "Contact customer service if unusual vibrations occur.",
        "The technical data below apply to all pumps of the series unless stated otherwise.",
        "Each model is available with a stainless steel impeller on request.",
        "Bearings are lubricated for life and need no grease.",
        "The pump may only be used for clean water and similar liquids.",
        "A non-return valve should be fitted on the discharge side.",
        "Larger models of the series are supplied on a base frame.",
        "Electrical data are printed on the rating plate of the motor.",
        "Pressure gauges help to check that the pump runs at its duty point.",
        "Spare parts lists can be requested from the service department.",
        "Transport the unit only in its original packaging.",
        "Store the pump in a dry place protected from dust.",
        "The declaration of conformity is enclosed with every delivery.",
    ),
)

COUNCIL = DocumentSpec(
    name="riverside-council-minutes",
    title="Riverside City Council - Minutes of the 2025 Sessions",
    pages=7,
    entities={
        "place": ("public library", "central swimming pool", "old market hall"),
        "street": ("Harbour Road", "Elm Avenue"),
        "role": ("city treasurer", "head of urban planning"),
    },
    kinds=(
        Kind(
            "renovation",
            ("The council approved {amount} euros for the renovation of the {place}.",),
            (
                "How much money was allocated to refurbishing the {place}?",
                "What budget did the councillors grant for fixing up the {place}?",
                "What will the upgrade of the {place} cost the city?",
            ),
            "place",
        ),
        Kind(
            "speed",
            ("The speed limit on {street} will be reduced to {n} km/h.",),
            ("How fast may drivers go on {street} in future?", "What is the new maximum speed for {street}?"),
            "street",
        ),
        Kind(
            "appointment",
            ("{person} was appointed as the new {role}.",),
            ("Who became {role}?", "Which person takes over the post of {role}?"),
            "role",
        ),
        Kind(
            "bridge",
            ("Repairs to the North Bridge are expected to take {n} months.",),
            (
                "How long will the work on the North Bridge last?",
                "When will the North Bridge be fixed, how many months from now?",
            ),
        ),
        Kind(
            "park",
            ("The new riverside park will open to the public on {date}.",),
            (
                "When can residents start using the new park by the river?",
                "What is the opening date of the riverside green space?",
            ),
        ),
        Kind(
            "vote",
            ("The motion on free public transport for pupils passed with {y} votes to {m}.",),
            (
                "How did the council vote on free buses for schoolchildren?",
                "What was the result of the ballot on free travel for students?",
            ),
        ),
    ),
    filler=(
        "The mayor opened the session and welcomed the members of the public.",
        "The minutes of the previous meeting were approved without changes.",
        "Several residents spoke during the public question time.",
        "The committee reports were noted by the council.",
        "A councillor asked for an update on the waste collection schedule.",
        "The session was adjourned shortly after nine in the evening.",
        "Members observed a minute of silence for a former councillor.",
        "The clerk confirmed that a quorum was present.",
        "The item on the town twinning programme was deferred to the next meeting.",
        "The council thanked the volunteers of the summer festival.",
        "Written questions will be answered within fourteen days.",
        "The next ordinary session will take place in the town hall.",
        "The finance committee presented the quarterly budget report.",
        "A petition on street lighting was handed to the mayor.",
        "Traffic safety near schools was raised by several parents.",
        "The council discussed the state of roads after the winter.",
        "The planning department reported on pending building permits.",
        "Councillors debated the future of the municipal sports facilities.",
        "The press was present for the public part of the meeting.",
        "A vote on parking fees was postponed pending further study.",
        "The youth council presented its proposals for the summer.",
        "Staffing of the city administration was discussed in closed session.",
        "The heritage committee asked for funds to restore historic buildings.",
        "The transport plan will be presented to residents in the autumn.",
    ),
)

HANDBOOK = DocumentSpec(
    name="brightwave-employee-handbook",
    title="Brightwave Software - Employee Handbook",
    pages=6,
    entities={},
    kinds=(
        Kind(
            "leave",
            ("Full-time staff receive {n} days of paid annual leave.",),
            ("How many holidays do employees get per year?", "What is the yearly vacation allowance?"),
        ),
        Kind(
            "parental",
            ("New parents may take {n} weeks of fully paid leave.",),
            (
                "How long is the paid time off after a baby is born?",
                "How much time away do mothers and fathers get when they have a child?",
            ),
        ),
        Kind(
            "remote",
            ("Employees may work from home up to {n} days per week.",),
            ("How many days a week can I do remote work?", "What is the limit on home office days?"),
        ),
        Kind(
            "probation",
            ("The trial period for new hires lasts {n} months.",),
            ("How long is the probation?", "For how many months are newcomers on probation?"),
        ),
        Kind(
            "meals",
            ("Meals on business trips are reimbursed up to {n} euros per day.",),
            (
                "What is the daily food allowance when travelling for work?",
                "How much can I claim for lunch and dinner on a business journey?",
            ),
        ),
        Kind(
            "notice",
            ("Either side may end the contract with {n} weeks of notice.",),
            ("What is the termination period?", "How much warning must be given before quitting?"),
        ),
        Kind(
            "learning",
            ("Each employee has an annual learning budget of {n} euros.",),
            (
                "How much can I spend on courses each year?",
                "What is the yearly education allowance per person?",
            ),
        ),
    ),
    filler=(
        "This handbook applies to all employees of Brightwave Software.",
        "Please read it carefully and keep it for future reference.",
        "Questions about its content can be sent to the people team.",
        "We value openness, curiosity and respect for one another.",
        "Company laptops must be locked when left unattended.",
        "The office kitchen is cleaned every evening.",
        "Badges must be worn visibly inside the building.",
        "Changes to this handbook are announced on the intranet.",
        "Personal data is processed in line with the privacy policy.",
        "The code of conduct is part of every employment contract.",
        "Team events take place once per quarter.",
        "Feedback conversations are held twice a year.",
        "Working hours are recorded in the time tracking system.",
        "Overtime must be agreed with your manager in advance.",
        "Sick days must be reported to your manager before nine in the morning.",
        "Travel must be booked through the company travel portal.",
        "Receipts are required for every expense claim.",
        "The company provides a pension plan for all permanent staff.",
        "New colleagues are assigned a buddy for their first weeks.",
        "Internal job openings are published on the intranet first.",
        "Public holidays follow the calendar of the company's home region.",
        "Equipment for the home office can be ordered from IT.",
        "Salaries are paid on the last working day of each month.",
        "Promotions are discussed during the annual review.",
    ),
)

DOCUMENTS = (LOGISTICS, PUMP, COUNCIL, HANDBOOK)
