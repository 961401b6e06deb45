"""Plain questions to commands: a deterministic intent layer on top of the one grammar.

"why did our win rate drop in APAC last quarter?" becomes `/why APAC last quarter`; "what about
Europe?" in the same thread becomes the thread's last command with Europe for APAC. No model and no
network. The question is first spelt out (contractions, emoji, keyword typos, sales phrasings such
as EMEA, last Q, H1, "Q1 last year", "big deals"); ordered keyword rules then pick the command, and
the grammar reads the rest, matching segment values forgivingly (a value misspelt by one slip, "Eurpoe",
is read as the value). The reading is shaped to the
command (two values of one dimension side by side, "which regions" as a split, only what the command
takes). Words that only make the question a sentence are dropped; a word that looks like a segment
the data does not have is kept, so the reply names it and suggests the closest. A question that
names no analysis, or asks what no analysis measures, is asked back with its likeliest readings.
Tuned and measured on the corpora in tests/measure/corpus (tests/measure/measure_questions.py).
"""
from __future__ import annotations

import dataclasses
import datetime as dt
import difflib
import re
from collections.abc import Callable
from pathlib import Path
from dataclasses import dataclass

from insights.periods import PeriodSpec, resolve
from insights.query import Query
from insights.periods import add_months, grain_start
from insights.schema import CYCLE_BANDS, DIMENSION_ALIASES, DIMENSION_LABELS, SIZE_BANDS

from bot.core.grammar import (
    ACRONYMS, COLUMN_VALUES, GRAIN_WORDS, MAX_LIMIT, NEAREST_VALUES, OUTCOME_WORDS, UNIT_DAYS, UNIT_GRAIN, VS_WORDS, Vocabulary, norm, parse, split_command,
)

REP = "sales_rep_id"

# Ordered: the first rule whose pattern matches the question picks the command. The question has been
# rewritten first (see `rewrite`): lower case, contractions spelt out, keyword typos corrected.
# A dimension named as a whole (not one of its values): "deal size", "lead source", "the region".
DIMENSION_WORDS = (r"(deal size|deal sizes|size|sizes|size bands?|lead sources?|sources?|channels?|regions?|geos?|geography"
                   r"|industr(y|ies)|verticals?|products?|product (type|line)s?|segments?|amounts?|deal amounts?)")
TROUBLE = r"(decline|declin\w+|drop\w*|dip|slide|slump|fall\w*|fell|slip\w*|down|tank\w*|collaps\w*|lower|worse|problem)"
RULES: tuple[tuple[str, str], ...] = (
    # "is the q2 dip seasonal": why it dipped; "is q2 always weak": the quarters over time
    ("why", rf"\b{TROUBLE}\b.*\bseasonal\w*\b|\bwhat drove (it|that|this)\b"
            rf"|\b{TROUBLE}\b.*\b(concentrated|isolated|locali[sz]ed|widespread|everywhere|across the board)\b"),
    ("trend", r"\b(always|every year|each year|usually|typically|normally) (weak|slow|soft|strong|bad|good|down|up|lower|higher"
              r"|worse|better)\b"),
    ("reps", r"\b(differences|gaps?|spread|variation) (between|across|among) (the |our )?(reps|aes|sellers|salespeople)\b"),
    # "who on the APAC team is struggling": reps, named by "who", not segments
    ("reps", r"\bwho\b( \S+){0,5} (is|are) (struggling|underperforming|lagging|carrying|behind)\b"
             r"|\bwho (won|closed|sold|booked|lost) (the )?(most|fewest|biggest|largest|more|less)\b"
             r"|\b(anyone|anybody|someone|somebody)\b( \S+){0,5} ((worse|weaker|better|stronger) than|vs) (everyone|everybody"
             r"|the rest|the others|the team|their peers|the average)\b"
             r"|\b(anyone|anybody|someone|somebody)\b( \S+){0,3} (underperform\w*|struggling|lagging|behind|slacking)\b"),
    # money or a count of deals closed, deals named with their outcome or their open stage: the deals (totalled), not a rate
    ("deals", r"^(?!.*\b(rates?|percent\w*|share|fraction|proportion|often|why|will|expect\w*|forecast\w*|likely)\b).*?(?:"
              r"\b(show|tell|list|give)( me| us)? what (\S+ ){1,3}(lost|won|closed|booked)\b|"
              r"\b(deals|opps|opportunities) (won|closed-won)\b(?! (vs|or|and) )"
              r"|\b(deals|opps|opportunities)\b( \S+){0,3} still open\b"
              r"|^(the |our |all |any )?(deals|opps|opportunities) (in|at) (the )?(qualified|demo|proposal|negotiation)"
              r"( stage)?\b(?!.*\b(stuck|stall\w*|slip\w*|risk)\b)"
              # "dump all closed-won from h1 2024", "export every lost one": the deals themselves
              r"|\b(dump|export|download)( me| us)?( all| every| the| our)?( \w+)? (won|lost|closed|wins|losses)\b)"),
    ("reps", r"\bteam performance\b|\brep (numbers|stats|metrics|results|performance)\b"
             r"|\bhow (are|is|did|were|do) (the |our |my )?(\w+ ){0,2}(reps?|aes?|sellers?|salespeople|sales people|sales reps)\b"
             r"|\b(reps?|sellers?|aes?|salespeople)\b (\w+ ){0,2}(below|under|above|over) (the )?(team |company )?average\b"
             r"|\b(rep_?\d+|reps?|sellers?|aes?)\b.*\b(unlucky|bad luck|just luck)\b"
             r"|\bagainst-team\b|\b(rep_?\d+|reps?|sellers?|aes?)\b.*\bstacks? up\b|\bstacks? up\b.*\b(team|reps?|peers)\b"
             r"|\b(after|allowing for|adjusted for|adjusting for|accounting for|account for|correcting for|net of) (luck|chance|noise"
             r"|small samples?|sample sizes?)\b|\bluck[- ]adjusted\b"
             r"|\bclosers\b|\b(rank|ranking|list|show|compare)( the| our| my)? (reps|aes|sellers)\b"
             r"|\bhow (is|has) rep_?\d+ (been )?(doing|performing|looking)\b|\b(rep|seller|ae) (leaderboard|scorecard|ranking)s?\b"
             r"|\b(weakest|worst|best|strongest|top|bottom|lowest|highest)( \w+)? (reps?|aes?|sellers?|salespeople|closers?)\b"
             # "which of rep 9's deals": that rep's deals, not the reps
             r"|\bwho is (dragging|holding|pulling)\b|\b(any|which|what)( of)?( the| our| my)? (reps?|aes?|sellers?|salespeople)\b"
             r"(?![ _#]?\d+'s\b)"),
    # "does cycle length affect whether we win", "regression on win rate", "all else equal": what drives winning
    ("drivers", r"\b(affects?|impacts?|hurts?|helps?|influences?) (whether|if) we (win|close)\b"
                # a dimension's effect on winning ("does deal size affect win rate", "how does lead source impact our odds",
                # "the effect of region on win rate"): the drivers, unless a split is asked outright ("- split by cycle band")
                rf"|^(?!.*\b(split|broken|break\w*|by)\b).*(\b(does|do|did|how (does|do|did)|whether|if) (the |our )?{DIMENSION_WORDS}"
                r" (really |actually |even |still )?(affect|impact|influence|drive|predict|shape|change|determine)s?"
                r"|\b(effect|impact|influence|importance)s? of (the |our )?" + DIMENSION_WORDS + r" (on|for)\b"
                r"|\bwhat (effect|impact|influence|difference) (does|do) (the |our )?" + DIMENSION_WORDS + r" (have|make)\b"
                r"|\b" + DIMENSION_WORDS + r" effects? (is |are )?(real|just|or|independent|significant)\b)"
                r"|\b(distinguish\w*|differentiat\w*|separat\w*|sets? apart|tells? apart)\b.*\b(won|wins|winning|winners|lost|losses"
                r"|losers)\b|\b(does|do|did) being\b.*\b(help|hurt|affect|impact|matter|change)\w*\b"
                # "or is that just correlation with size", "confounded by region": controlled for the others, the drivers
                r"|\b(correlation|correlated|confound\w*|tangled|entangled|mixed up) (with|by)\b|\bjust (a )?proxy for\b"
                r"|\b(run|rerun|do|fit|show|see)( me)?( the| a| our)?( [\w-]+){0,3} regressions?\b"
                r"|\b(win rate|logistic|multivariate|statistical) regressions?\b|\bregressions? (on|of|model|analysis)\b"
                r"|\blogistic\b|\blogit\b|\bmultivariate\b|\bholding-constant\b|\bcontrolling for\b"
                r"|\b(hurts?|helps?|lowers?|raises?) (our |the )?(odds|chances)\b"),
    # the chance that open deals close, the deals most likely to, a quarter's dollars ahead, open deals gone bad:
    # the forecast, not a rate of closed deals nor their list
    ("pipeline", r"^(?!.*\brates?\b).*\b(chances?|odds|probability|likel\w*)\b (that )?(the |our |these |those |which )?(\w+ ){0,2}(deals?|opps?"
                 r"|opportunit\w+)( \w+){0,3} (to )?(close|land|come in)\b"
                 r"|\b(going to|gonna|will we|we will) (have|get|see) an? (good|bad|great|strong|weak|big|solid) (quarter|month"
                 r"|\d{4}q[1-4]|half)\b"
                 r"|\bopen (deals?|opps?|opportunit\w+)\b.*\b(rot\w*|give up|walk away|write off|written off|abandon\w*|zombies?)\b"),
    # segments under the team's rate, danger zones, where the exposure is: the weak segments
    ("risk", r"\b(revenue|dollars|money|bookings) (that )?(is |are )?at risk\b(?!.*\b(slip\w*|deals?|opps?|opportunit\w+)\b)"
             r"|\bwhat is (hurting|costing|killing)( us| our \w+)? (the )?most\b|\bdanger (zones?|areas?|spots?)\b|\bunderwater\b|\b(most |more |least )?exposed\b"
             r"|\b(under|below|beneath|short of) (the )?(team|company|overall|average)('s)?( win)? rate\b|^(the )?risks? (by|per)\b"),
    # losing deals at one stage or another: where the funnel leaks (the deals lost there, listed, stay the list)
    ("funnel", r"\blos(e|ing) (them|it|deals|opps|most|more)( \w+)? (at|in) (the )?(qualified|demo|proposal|negotiation)\b"
               r"(?=.*\bor\b)"),
    # whether a dimension matters at all, what goes with winning or losing, what the winners share: the drivers
    ("drivers", r"\b(does|do|did) (the |our )?(\w+ ){1,3}(really |actually |even |still )?matter\b"
                r"|\bwhat (goes|go|went|comes|come) (along )?(with|together with) (losing|winning|losses|wins|lost|won|a loss|a win)\b"
                r"|\bsecret sauce\b|\b(makes?|made) (the|a|any|all the) difference\b"),
    # questions about the data itself: its rows, its date, what is missing
    ("health", r"\bdata ?set\b|\b(loader|import|ingest\w*|parser)\b.*\b(throw|threw|thrown|drop\w*|skip\w*|reject\w*|discard\w*)\b|\b(how many|any|were|which|bad|dropped|skipped|ignored|excluded) (\w+ ){0,2}rows?\b"
               r"|\brows? (were |got |been )?(dropped|skipped|ignored|excluded|set aside|removed)\b"
               r"|\b(have|has|with|without) (no|an? empty|a missing) (amount|close date|closed date|stage|value)s?\b"
               r"|\bas[- ]of date\b|\bhow many (deals|rows|records)\b.*\b(the data|data ?set|file|export)\b|\bmissing (an? |the |their )?(\w+ )?(amounts?|values?|fields?"
               r"|dates?|data)\b|\bduplicates?\b"),
    ("risk", r"\bwhich( [\w-]+)? (segments?|parts|areas|pockets|corners)\b(?!.*\b(why|explain\w*|caus\w*|behind|driv\w*"
             r"|accounts? for (the|it|this|that))\b)"
             r"|\briski(er|est)\b|\bbelow (the )?(team |company )?average\b"
             # "what should I worry about in NA": the weak segments there (deals or reps to worry about stay theirs)
             r"|\bwhat (should|do|must) (i|we) (\w+ )?(worry|be worried|be concerned|be nervous|lose sleep) about\b"
             r"(?!.*\b(deals?|opps?|opportunit\w+|pipeline|reps?|sellers?|aes?|forecast|quarter)\b)"
             r"|\b(segments?|areas?|pockets?|parts|corners|regions?|industr(y|ies)|verticals?|products?|sources?|channels?)\b"
             r"(?!.*\b(deals?|opps?|opportunities|reps?)\b).*\b(worr(y|ied)|concerned|nervous)\b"
             # "what's the one thing I should fix", "what should we work on": the weak segments (a rate to improve is the drivers')
             r"|\b(should|must|need to|can|to) (we |i )?(fix|work on|address|tackle)\b(?!.*\b(win rate|drivers?|data)\b)"
             r"|\b(loss rates?|losses|losing)\b.*\b(above|over|higher than|worse than) (the )?(team |company |overall )?average\b"
             r"|^(?!.*\b(why|explain\w*|caus\w*|behind|driv\w*)\b).*\b(segments?|areas?|pockets?)\b.*\b(losing"
             r"|los(e|es) more|below|under|worse|weaker)\b"
             r"|\bwhich (?!(\w+ )?(reps?|aes?|sellers?|salespeople)\b)(\w+ ){0,2}(are|is) (dragging|weak\w*|lagging"
             r"|underperforming|struggling|hurting|holding)\b"),
    # "all deals closed in june", "every opp we won in APAC": the deals themselves, asked as a list (a rate stays a rate)
    ("deals", r"\bdeals behind\b|\bdeal list\b|\blist of (the |our )?(\w+ )?deals\b"
              r"|^(?!.*\b(rates?|percent\w*|share|fraction|proportion|how many|how much|why|will|forecast\w*)\b)"
              r"((show|list|pull|give|get|see|export|find|send)( me| us)? )?(all|every|each)( of)?( the| our)? (\w+ ){0,2}(deals?|opps?|opportunit\w+)\b(?! (by|per)\b)"
              r"|^(?!.*\b(rates?|percent\w*|share|fraction|proportion|how many|how much|why|reasons?|caus\w*|explain\w*"
              r"|how (long|fast|quickly)|take|took)\b).*\b(deals|opps|opportunities) (that )?(we|did we) (lost|won)\b"
              r"|^(?!.*\b(why|reasons?|caus\w*|explain\w*|behind)\b).*(\bwhat (did|have)(?!.*\b(take|takes|need|needs)\b)( \w+){1,3} (lost|lose|won|win)\b|^(the )?(deals?|opps?|opportunities) (that )?(we )?(lost|won)\b"
              r"|\b(which|what) (?!(share|percent\w*|fraction|proportion|portion|ratio)\b)(\w+ ){0,3}(deals?|opps?|opportunities)"
              r" did we (lose|win)\b|^(recent |latest |our |the |new )?(wins|losses)\b(?! by\b)"
              r"|'s (recent |latest |biggest |big |open )?(wins|losses)\b(?! by\b)"
              r"|\b(got|have|has) open\b(?!.*\b(pipeline|forecast|coverage|commit)\b)"
              r"|\b(show|list|pull|give|get|see|drill( down)?( into| on)?|open up)( me)?( \S+){0,4} (losses|wins)\b"
              r"|^(?!.*\b(will|expect\w*|forecast\w*|outlook|next|going to)\b).*(\b(did we book|we booked|booked)\b"
              r"|\bbookings\b.*\b(last (quarter|month|year)|\d{4}(q\d|-\d\d)?)\b))"),
    ("funnel", r"\bmake it\b|\bhow many days\b|\b(time|days|weeks) to (close|win|closing|won)\b"
               r"|\bhow (fast|quickly|slowly)\b(?!.*\b(will|going to|likely|forecast)\b)|\bcycles? (has |have |is |are )?(got|gotten|get|gets|getting|grown|grew|became"
               r"|become|becoming|been)? ?(longer|shorter|slower|faster)\b|\b(longer|shorter) (sales )?cycles?\b|\b(faster|slower|quicker|longer)\b.*\b(won|lost|win|lose|winning|losing)\b"
               r"|\b(close|closes|closing)\b( \w+){0,3} (faster|slower|quicker)\b"
               r"|(?<!will )(?<!to )\b(close|closes|closed) (with)?in \d+ days\b"  # how long deals take, not a forecast
               r"|\b(median|average|avg|mean|typical) (sales )?cycle\b"
               r"|\b(reached|reach|reaching|got to|get to|made it to|make it to|advanced to|progressed to|past) (the )?"
               r"(qualified|demo|proposal|negotiation)\b"
               r"|\b(won|lost|win|lose)\b.*\b(faster|slower|quicker|longer)\b|\bfrom (qualified|demo|proposal|negotiation) to\b"
               r"|\b(qualified|demo|proposal|negotiation) (to|->) (demo|proposal|negotiation|close|closed|won|win)\b"
               r"|\bbetween (the )?(qualified|demo|proposal|negotiation)( stage)? and (the )?(demo|proposal|negotiation|close"
               r"|closed|won|win)\b"
               # "what % of proposals turn into wins": a stage's conversion to the next or to a win
               r"|\b(qualified|demos?|proposals?|negotiations?)( stage)?( deals| opps)? (turn|turns|convert|converts|become|becomes"
               r"|end up|ends up|move|moves|progress|progresses|advance|advances)( \w+)? (into|to|as) (an? )?(wins?|won|closed"
               r"|deals|demos?|proposals?|negotiations?)\b"
               # deals that die, drop out or fall through at a stage ("how many deals die in negotiation"): its drop-off;
               # the deals lost there asked as a list stay the list ("the APAC deals we lost at negotiation")
               r"|\b(die|dies|died|dying|drops?|dropped|dropping|drop out|drops out|dropped out|drop off|drops off|dropped off|fall out|falls out"
               r"|fell out|fall through|falls through|fell through|fizzle\w*|leak\w*)( \w+)? (in|at|after|during) (the )?"
               r"(qualified|demo|proposal|negotiation)\b"
               r"|\bhow many (\w+ ){0,3}(deals|opps|opportunities) (\w+ ){0,2}(lose|lost|losing) (in|at) (the )?"
               r"(qualified|demo|proposal|negotiation)\b"),
    ("winrate", r"\bhow (many|much)\b.*\bdeals? did we (win|close|lose)\b|\bhow often do we (win|close)\b"
                r"|\bwhat (is the |are the )?(%|percent(age)?\b|share\b|fraction\b|proportion\b)|\bhow do we do\b"
                r"|(?<!getting )\b(harder|easier|tougher) to (win|close)\b"),
    ("pipeline", r"\bhow many open\b|\b(deals?|opps?|opportunities) (are |currently |sitting |still |now )+(in|at) (the )?"
                 r"(qualified|demo|proposal|negotiation)\b|\b(deals?|opps?|opportunit\w+)\b.*\bslip\w*|\bslip\w*\b.*\b(deals?|opps?)\b"
                 r"|\bslippage\b|\b(what|anything|something|which ones?) (is |are )?(slipping|going to slip|likely to slip)\b"
                 r"|\bat[- ]risk (open )?(deals?|opps?|opportunit\w+|pipeline|amounts?|dollars|value|\$+)\b"
                 r"|\b(will|going to|gonna|expect\w* to|likely to|could|should)\b.*\bbring (in|home)\b"),
    ("help", r"^(help|hi|hello|hey|yo|thanks|thank you|commands?|menu)$|\bwhat commands\b|\blist (of )?commands\b"
             r"|what can (you|i|this bot|the bot|it|this thing) (do|answer|tell|ask)"
             r"|what (questions|things) can (you|i)|\bwhat (kinds?|sorts?|types?) of (questions|things)\b"
             r"|how do i use|what do you do\b|^what are your commands|\b(which|what) commands (i|we) can\b"),
    ("health", r"^(is )?(the |our |this )?data (ok|okay|good|fine|clean|right|reliable|trustworthy|fresh)\b|\bdata (quality|health|freshness)\b|\bhow (fresh|old|recent|current|stale) is (the|this|our) data\b"
               r"|\bset aside\b|\bbad rows\b|\bwhen was (the )?data\b|^health\b|\bdata (last )?(updated|refreshed)\b"
               r"|\bhow (fresh|old|recent) is (\w+ )?data\b"
               r"|\bis (the|this) data\b|\blast (refresh|update|sync)\b|\bdata up to date\b"
               r"|\bhow (fresh|old|recent|current|stale|clean|good|reliable|complete|accurate|trustworthy) "
               r"(is )?(the |this |our )?(crm )?(data|extract|export|numbers)\b"
               r"|\b(anything|something|what|any deals|any rows) (was |were |got |been )*(excluded|dropped|left out|set aside)\b"
               r"|\b(until|up to|through|till) (which|what) date\b|\bdate range\b.*\b(data|extract|export|file|cover)"
               r"|\b(data|extract|export|file) (cover|covers|span|spans|go|goes|run|runs|start|starts|begin|begins)\b"
               r"|\bcensor\w*\b|\b(problems?|issues?|wrong|something off|errors?) (with|in) (the |our |this )?data\b"
),
    ("digest", r"\bdigest\b|\bweekly (summary|report|update|health)\b|\b(give|send) me (a|the) (weekly )?summary\b"
               r"|\bsales health\b|\bhighlights\b|\bstate of (the |our )?(business|sales|union|world)\b|\bwhat is the latest\b"
               r"|\bwhat should i know\b|\b(anything|something) (i|we) should (know|see|look at)\b|^what is new\b|\bsummar(y|ise|ize)\b"
               r"|\bexecutive (summary|overview)\b|\bbrief me\b|\brecap\b|\bround-?up\b|\brundown\b|\btl;?dr\b|\btl dr\b"
               r"|\bfor (my|our|the) (exec|executive|staff|leadership|board)( staff)? meeting\b"),
    ("why", r"\bwhy\b|\b(anything|something) ((is|was|seems|looks|feels) )?(weird|odd|strange|unusual|off|funny|fishy|interesting)\b|\bwhat (has|have) (happened|changed|gone wrong|shifted|moved)\b(?! the needle)|\b(the )?(back)?story (behind|of|with|on)\b|\bwhat is the (back)?story$|\bbackstory\b|\bwhat (happened|caused|changed|explains|is behind|went wrong|is driving(?! (wins|winning|our wins|success|deals to close|(\w+ )?(losses|losing))\b)|is causing"
            r"|is dragging|is pulling|is killing|is hurting)\b|\bexplain\w*\b|\breasons?\b|\bcauses?\b|\bcausing\b"
            r"|\b(segments?|regions?|pockets?|parts?) (that |which )?(fell|dropped|declined|slipped|moved|shifted)\b"
            r"|\bdig (in|deeper)\b|\bdig into (it|this|that)\b|\bdecompos\w*\b|\bmix (of \w+ )?(change|changed|shift|shifted|moved)\b|\b(rate|mix) (and|or|vs) (rate|mix)\b|\bmix effects?\b"
            r"|\b(accounts?|accounted) for the (change|drop|decline|difference|gap|shift|fall)\b"
            r"|\bwhat moved (the )?(win rate|number|rate)\b|\bwhat (moved|shifted)\b(?! the needle)|\broot cause\b|\bbehind the\b|\bdiagnos\w*\b|\bunderstand the\b|\bwhat is (going on|happening|up)\b"
            rf"|\b(driving|causing|dragging|pulling|killing|hurting|behind) (the |our |this |that )?(\w+ )?{TROUBLE}"
            r"|\bwhat is (dragging|pulling|killing|hurting)\b|\bbreak ?down (of )?(the )?(change|drop|decline)"
            r"|\bmix\b(?=.*\b(or|vs)\b)|\b(or|vs) (\w+ )?mix\b|\b(drove|drives) (the |this |that )?(change|shift|swing|move)\b"
            rf"|\bmix (problem|shift|effect|issue)\b|\brate (problem|effect)\b|\bdrivers? (of|behind) (the |our |this )?(\w+ )?{TROUBLE}"),
    ("funnel", r"\bfunnel\b|\bstages?\b|\bdrop[- ]?offs?\b|\bcycle[- ]?(gap|time|length)s?\b|\bsales cycles?\b"
               r"|\bcycle[- ](\w+[- ])?gap\b"
               r"|\bwhere (do|does|are) (the )?(\w+ ){0,2}(deals|opportunities|opps) (usually |typically |normally |mostly |often |tend to )?(stop|stall|die|drop|get stuck|lose|fall|leak"
               r"|exit|fizzle)"
               r"|\btak(e|es|ing) longer\b|\bin the process\b|\bhow long\b|\bwhere do we (stall|get stuck)\b"),
    # "how much will europe close", "what will the APAC team book": up to three words between (not "will it take to close")
    ("pipeline", r"\bforecast\w*\b|\bwill (we )?(close|win|book|land|hit|make)\b"
                 r"|\bwill (?:(?!(take|takes|be|have|need)\b)[\w']+ ){1,3}(close|win|book|land|bring in|lose)\b(?! rates?\b)"
                 r"|\b(going to|gonna) (close|win|book|land|hit)\b|\bbook(ing|ings|ed)?\b"
                 r"|\b(make|hit) (the|our) (quarter|number|plan|target)\b|\bwin probabilit\w*\b|\bcommit\b"
                 r"|\bcoverage\b|\bpush (out|into)\b|\bpushed\b|\bgoing (cold|stale|dark)\b"
                 r"|\bstale\b|\bstall\w*\b|\bstuck\b|\bopen (deals?|opportunit\w+|opps?)\b.*\b(close|risk|attention|win"
                 r"|prioriti\w*|focus|save|chase|push)"
                 r"|\blikely to (close|win|land)\b|\bexpect\w* to (close|win|book)\b|\bexpected revenue\b|\boutlook\b"
                 r"|\b(deals?|opportunit\w+|opps?) (are |is )?(at risk|in danger|in trouble|slipping|worry)|\bworry about\b"
                 r"|\b(deals?|opps?|opportunit\w+)\b.*\b(focus on|focus our|prioriti[sz]e|chase|push on|work on)\b"
                 r"|\b(top|best|biggest|largest|open) (deals?|opps?|opportunit\w+) to (close|win|land|chase)\b"
                 r"|\b(on|off) (track|pace|course) (for|to (hit|make|close|land))( the| this| our)? (quarter|q|month|number)\b"
                 r"|\bpipeline\b|\bbacktest\w*\b|\bwhere will we land\b|\bupside\b|\b(going to|will|could|might|may|likely to) slip\b"),
    ("drivers", r"\bdrives?\b|\bdriving\b|\bdrivers?\b|\bfactors?\b|\bwhat (makes|helps) (us )?win\b|\bpredicts?\b"
                r"|\bpredictors?\b|\bcorrelat\w*\b|\bwhat matters\b|\bwhat (makes|helps)\b.*\b(win|won|winning|close|closing)|\bmatter\w* (most )?for winning\b|\blevers?\b"
                r"|\binfluenc\w*\b|\bin common\b|\bseparates?\b|\battributes?\b|\bcharacteristics\b|\bmake us win\b"
                r"|\bmatters? (more|most)\b|\bmatters? for (winning|closing|win rate)\b|\bmov(e|es|ed) the needle\b"
                r"|\bmore likely to (win|close|be won)\b|\b(odds|chances?|likelihood) of (winning|closing)\b"
                r"|\bwhat (do|does) (winning|won) deals\b|\bdoes \w+( \w+)? matter\b"
                r"|\b(most |more |least )?important (to|for|in) (win|winning|close|closing)\b|\bwhether (\w+ ){1,3}(really |actually )?matters?\b"
                r"|\b(once|after|when|if) (you |we )?(account|control|adjust)\w* for\b|\bmarginal effects?\b"
                r"|\bmoves? (the )?(win rate|rate)\b"
                r"|\b(would|could|will|can|to) (most |best |really )?(improve|increase|raise|lift|boost)\b.*\bwin rate\b"),
    ("deals", r"\b(which|what|list|show( me)?|see|open up|pull|drill( down)?( into)?)\b(\s+[\w']+){0,4}\s+(deals?|opportunities|opps)\b"
              r"|\bdeals behind\b|\bdeal list\b|^deals\b|\bthe deals\b|\b(won|lost|open|closed)( \w+){0,3} deals\b"
              r"|\b(pull|export|csv|download|get me|give me)\b(?!.*\bwin rate\b).*\bdeals\b|\bdeals (we|did we) (lost|lose|won|win)"
              r"|\b(biggest|largest) (deals|losses|wins)\b"
              r"|^((and|now|ok|then) )?(just |only )?(the )?(won|lost|open) ones\b"),  # "just the lost ones": those deals
    ("trend", r"\b(recovered|rebounded|bounced back|stable|steady|unstable|volatil\w*|consistent|erratic|slipping|declining|improving|trending|recovering|worsening|deteriorating|falling|dropping|rising"
              r"|climbing|sliding|tanking|getting (better|worse)|(gotten|grown|become) (steadily |gradually |consistently )?(better|worse)|going (up|down)|up or down|better or worse)\b"
              r"|\b(real|noise|noisy|significant|significantly|random|luck|fluke|blip|trend\w*|trajector(y|ies)|over time|each (quarter|month)"
              r"|monthly|quarterly|history|historical|by month|by quarter)\b|\bhas (the )?(win rate|it) been\b|\bholding up\b|\bused to\b"
              r"|\bhow (is|are|was|were|did|do|does)\b.*\b(doing|do|performing|going|trending|look|looking|tracking)\b"
              r"|\bhow (has|have) (?!been\b).*\bbeen (doing|performing|going|looking|tracking)\b"
              r"|\bhow is (it|things|business) going\b|\bgetting (better|worse)\b|\bover the (last|past)\b"
              r"|\bis (the )?(\w+ )?(win rate|it) (down|up|lower|higher)\b|\bare we (improving|better|worse)\b"
              r"|\bhow (has|have)\b.*\b(changed|moved|shifted|evolved|developed)\b"
              r"|\bhow\b.*\b(has|have) (changed|moved|shifted|evolved|developed|trended)\b"
              r"|\bchanged over\b|\blately\b|\bgetting (harder|easier|tougher)\b"
              r"|\b(downward|upward|downhill)\b|\b(heading|headed|trending) (up|down)\b"
              r"|\b(has|have)\b.*\b(dropped|fallen|declined|slipped|improved|risen|gone (up|down)|changed|tanked)\b"
              r"|\bdid\b.*\b(drop|fall|decline|slip|improve|rise|go (up|down)|tank)\b"  # "did win rate drop?"
              r"|\b(converting|closing|winning|doing|performing) (worse|better)\b|\bvs-baseline\b"
              r"|\b(smallest|minimum|minimal|least) (change|effect|difference|drop|move)\b.*\bdetect\w*|\bdetectable\b"
              r"|\bstatistical power\b"
              # "is the fintech slump over": whether a fall has ended, over time
              r"|\b(slump|dip|decline|drop|slide|downturn|rough patch)\b.*\b(over|behind us|bottom(ed)? out|ended|ending|done)$"),
    ("reps", r"\breps?\b|\bshrunk\b|\bshrinkage\b|\bsales ?(people|persons?|reps?)\b|\bsellers?\b|\baes?\b|\bleaderboard\b|\bcoach\w*\b"
             r"|\bperformers?\b|\battainment\b|\bquota\b|\bscorecard\b|\bwho (needs|should|is|are|closed|has|won)\b"
             r"|\bwho is (underperforming|struggling|carrying)\b|\bowners?\b|\bwho\b.*\b(best|worst|most|least)\b"
             r"|\bworst (performers?|sellers?)\b|\bneeds? (attention|help)\b|\bunderperforming\b(?=.*\b(rep|who|seller|ae)s?\b)"),
    ("risk", r"\brisks?\b|\brisky\b|\bat stake\b|\blos(e|ing) (the )?most\b|\bwhere (are|do) we lose\b"
             r"|\bwhere (are|do) we los(e|ing)\b|\bcost(ing|s)? (the )?most\b|\b(biggest|main|top) (problems?|issues?|loss(es)?|leaks?|opportunit\w+)\b(?! (to|that|which|we|likely) )|\bimpact\b|\bweak\w*\b"
             r"|\blagging\b|\bunderperform\w*\b|\bproblem (segments?|areas?)\b|\b(which|what)( \w+)? (segments?|regions?|industr(y|ies)|verticals?|products?|sources?|channels?) (is|are) (the |our )?(problems?|issues?|weak spots?)\b|\bbleed\w*\b|\bfocus\b(?! for\b)|\bfix first\b"
             r"|\bpriorit\w+\b|\brecommend\w*\b|\bactions?\b|\bwhat should (we|i) do\b|\bdragging us\b|\bweak spots?\b"
             r"|\bstruggling\b|\bworst (segments?|areas?)\b|\bleak\w*\b|\bgetting (killed|crushed|hammered|beaten)\b"),
    ("winrate", r"\bwin ?rates?\b|\bwinrate\b|\bconversion\b|\bclose rate\b|\bhow (many|much|often)\b.*\b(win|won|close|closed|lose|lost)\b"
                r"|\bcompare\b|\bversus\b|\bvs\b|\bhit rate\b|\bbetter than\b|\bbeat\w*\b|\bconverts?\b|\bwins? more\b"
                r"|\bwhat (%|percent\b)|\b(best|worst|top|bottom)( \d+)?( performing| converting)? (regions?|industry|industries"
                r"|verticals?|products?|lead sources?|sources?|channels?)\b"
                r"|\b(rank|ranking|sort|order)( the| our| all)? (regions|industries|verticals|products|lead sources|sources|channels)\b"
                r"|\b(best|worst|strongest|weakest) at (closing|winning|converting|close|win)\b"
                r"|\bwhere (are|is) (we|our \w+) (strongest|best)\b"
                r"|\bhow did\b|\b(wins?|converts?|closes?) (the )?(most|best|more|less|least|highest|lowest)\b|\b(more|less) often\b"
                r"|\b(which|what) (regions?|geos?|industr(y|ies)|verticals?|products?|lead sources?|sources?|channels?) (is|are|was|were)"
                r"( the| our)? (best|worst|strongest|weakest|top|bottom)\b"
                # "which region performs best", "what vertical converts worst for us": the rates by that dimension
                r"|\b(which|what) (regions?|geos?|industr(y|ies)|verticals?|products?|lead sources?|sources?|channels?)"
                r" (performs?|performed|does|did|do|is doing|converts?|closes?|wins?)( the)? (best|worst|strongest|weakest)\b"),
)
# What the analyses do not measure: asked back with the closest readings rather than answered wrongly. (What happens
# after the sale, churn, renewals, retention, expansion, is OUT_OF_DATA's "after-sale", read before this.)
UNSUPPORTED = re.compile(r"\b(average|avg|mean|median) (deal )?(size|amount|value|acv)\b|\bquota\b(?!.*\battainment\b)"
                         r"|\bmanagers?\b|\bacv\b|\barr\b|\bmrr\b|\bnps\b"
                         r"|\bmarketing spend\b|\bcac\b|\bhow many reps\b|\bheadcount\b|\bpric(e|es|ing)\b|\bdiscount\w*\b"
                         r"|\bcompetitors?\b|\b(industry|external|market|peer|public|saas) (benchmarks?|averages?|standards?"
                         r"|norms?)\b|\bbenchmarks\b|\bcampaigns?\b|\bproduct launch\b|\bnew hires?\b"
                         r"|\bnew (reps|sellers|aes|salespeople)\b|\bramp\w*\b|\btenure\b"  # no hire dates
                         r"|\b(calls|dials|meetings|emails|sales activity|activity|activities|sdrs?|bdrs?)\b"  # activity is not logged
                         r"|\bwin ?rates? (for|of|on) (the )?(\w+ )?(deals|opps|opportunities) (we )?lost\b"  # lost deals win none
                         r"|\b(stop|cancel|unsubscribe|turn off|end)\b.*\b(daily|weekly|monthly)( \w+)? (update|report|summary|digest|message|post)s?\b"
                         r"|\bdemos\b(?!.*\b(stages?|(move|moves|go|goes|turn|turns|convert|converts|get|gets|make it|progress\w*)"
                         r" (in)?to)\b)|\b(mqls?|sqls?|leads generated|webinars?)\b"  # activities are not logged
                         r"|\b(new )?logos?\b|\blead[- ]to[- ](opportunit\w+|opps?|sqls?|mqls?|meetings?)\b"  # no customers, no leads
                         r"|\b(gross |net |profit )?margins?\b|\bprofit(s|ability)?\b|\bcogs\b"  # no costs in the data
                         r"|\b(pipeline|pipe|opportunities|opps) (generated|created|added|built|sourced)\b"  # no creation history
                         r"|\bnew products?\b|\bthe (big|main|biggest|largest|small|smallest|new|old) (region|industry|vertical"
                         r"|product|source|channel|segment)\b"  # which one? the data names none so
                         r"|\bthe (big|biggest|huge|large|largest|whale) one\b"
                         r"|\bdeal (id |number |no\.? |#)?d?\d{4,}\b|\bd\d{5,}\b"  # one deal's story is not in the data
                         r"|\bwhy\b.*\b(lose|lost|win|won)\b (the|that|this) (\w+ )?deal\b"
                         r"|\b(customers?|accounts?|clients?)\b.*\bexpand\w*|\bexpand\w*\b.*\b(customers?|accounts?|clients?)\b"
                         # a launch's date is not in the data: "before we launched pro"
                         r"|\b(before|after|since) (we |they |the )?(launch\w*|releas\w*|introduc\w*|rolled out|roll-?out|shipp\w*)\b"
                         r"|\b(loss|win) reasons?\b|\bby (loss |lost |win )?reasons?\b|\breasons? (\w+ ){0,3}(logs?|logged|records?|recorded|enters?|entered|picks?)\b"
                         r"|\b(time|days|weeks) (spent )?(in|per|at) (each |every |a |the )?(stage|step)s?\b"  # no stage history
                         r"|\b(time|days|weeks|long)\b.*\bspen[dt]\w* (in|per|at) (each |every |a |the )?(stage|step)s?\b"
                         r"|\bforecast\w* (\w+ ){0,2}next year\b|\bnext year'?s? (revenue|bookings|forecast|number)\b"
                         r"|\bmy (region|territory|geo|vertical|segment|area|patch|book|market)s?\b"  # whose? not in the data
                         # coverage against a quota, forecast categories, spend, renewals: none is in the data
                         r"|\bcoverage (ratio|multiple)s?\b|\b\d+(\.\d+)?x (pipeline )?coverage\b|\bcoverage (vs|against|to|of) "
                         r"(the |our )?(quota|target|plan)\b|\b(in|into|to) (the )?commit\b|\bcommit (category|bucket|column)\b"
                         r"|\bbest[- ]case\b|\bforecast categor(y|ies)\b"
                         r"|\b(spend|spent|spending) on\b|\b(marketing|ad|ads|advertising|media|program|partner) (spend|spending)\b"
                         r"|\bhow much (did|do|have|will) (we|you|they) (spend|spent)\b")
# Concepts the data does not hold, asked in words the analyses know ("sales velocity", "health score of accounts",
# "FY24"): never answered as the analysis those words resemble. Each says plainly what is missing and offers the
# nearest two or three analyses as buttons (docs/conversation.md, "Out of the data"). The first that matches speaks.
@dataclass(frozen=True)
class OutOfData:
    name: str
    pattern: re.Pattern  # on the question as typed (lower case) or as rewritten ("sales velocity" is rewritten)
    says: str  # what the data lacks, in one plain sentence
    nearest: tuple[str, ...]  # the closest analyses, best first


OUT_OF_DATA = (
    OutOfData("velocity", re.compile(r"\b(sales|pipeline|revenue) velocity\b"),
              "Sales velocity is not one of my analyses (it multiplies deals, deal size and win rate over the cycle "
              "length); its parts are:", ("/funnel", "/winrate", "/pipeline")),
    OutOfData("health-score", re.compile(r"\bhealth ?scores?\b|\b(account|customer|client)s? health\b"
                                         r"|\bhealth of (the |our )?(accounts|customers|clients)\b"),
              "The data holds no account or customer health scores: it ends when a deal is won or lost.",
              ("/deals won", "/winrate by industry", "/trend")),
    OutOfData("after-sale", re.compile(r"\btime[- ]to[- ](first )?value\b|\bttv\b|\bonboard\w*|\bgo[- ]live\b"
                                       r"|\b(product )?(usage|adoption)\b|\bchurn\w*|\brenew\w*|\bretention\b|\bnrr\b"
                                       r"|\bgrr\b|\bexpansion\b|\bupsell\w*|\bcross-?sell\w*"),
              "The data ends when a deal is won or lost: nothing after the sale (onboarding, usage, renewals, churn, "
              "expansion) is in it.", ("/deals won", "/winrate", "/trend")),
    OutOfData("fiscal-year", re.compile(r"\bfy ?'?(\d{2}|\d{4})\b|\bfiscal\b"),
              "I don't know when your fiscal year starts: the data's periods are calendar ones.", ()),
    OutOfData("slipped", re.compile(r"\b(deals?|opps?|opportunities|which|what|how many)\b.*\b(slipped|got pushed|pushed "
                                    r"(out|back|to next))\b|\bslipped (from|out of|past|into)\b"),
              "The data keeps each deal's current close date, not its history, so which deals slipped from one "
              "period to the next cannot be told.", ("/pipeline", "/deals open", "/risk")),
    OutOfData("benchmark", re.compile(r"\b(good|typical|normal|healthy|decent|standard|realistic) (win|close) ?rates?\b"
                                      r".*\b(compan(y|ies)|business(es)?|like (us|ours)|our size|industry)\b"
                                      r"|\bcompan(y|ies) (like|of) (ours|us|our size)\b"
                                      r"|\bwhat('s| is) (a |an )?(good|typical|normal|healthy|decent|standard|realistic|benchmark|average)"
                                      r" (win|close) ?rates?( to (aim|shoot) for| target| benchmark)?\??$|\b(win|close) ?rates? benchmarks?\b"),
              "The data holds only our own deals, none of other companies', so what is typical elsewhere cannot be "
              "told.", ("/winrate", "/trend", "/winrate by industry")),
    OutOfData("partners", re.compile(r"\bwhich partners\b|\b(individual|named|specific|top|best|our) partners\b"
                                     r"|\bpartners? (names?|firms?|compan\w+)\b|\bco-?sell\w*|\b(partner|channel)[- ]influenced\b"
                                     r"|\bresellers?\b"),
              "The data records Partner as a lead source only: not which partner brought a deal, nor deals a partner "
              "influenced.", ("/winrate lead_source=Partner", "/winrate by lead_source", "/deals lead_source=Partner won")),
    OutOfData("stage-timing", re.compile(r"\b(how (many|long)|days|weeks|time)\b.*\bfrom (the )?(qualified|qualification"
                                         r"|demo|proposal|negotiation|first (call|meeting|touch)|lead|creation|created)"
                                         r"\b.*\bto\b"),
              "The data keeps each deal's current stage, not when it entered each one, so the time between stages "
              "cannot be told; the whole cycle can.", ("/funnel", "/winrate by cycle_band", "/deals won")),
)


def _out_of_data(words: str, question: str, vocab: Vocabulary, as_of: dt.date) -> Intent | None:
    """A question about a concept the data does not hold: said plainly, with the nearest analyses; else None."""
    typed = re.sub(r"\s+", " ", question.casefold().replace("’", "'"))
    for concept in OUT_OF_DATA:
        if not (concept.pattern.search(words) or concept.pattern.search(typed)):
            continue
        nearest = _asked(concept.nearest)
        if concept.name == "fiscal-year":  # the calendar year's reading is the nearest: "FY24 win rate" as 2024's
            year = re.search(r"\bfy ?'?(\d{2}|\d{4})\b", question.casefold())
            calendar = re.sub(r"\bfy ?'?(\d{2}|\d{4})\b|\bfiscal\b", lambda m: (
                ("20" + m.group(1) if len(m.group(1)) == 2 else m.group(1)) if m.group(1) else ""), question,
                flags=re.IGNORECASE) if year else re.sub(r"\bfiscal\b", "", question, flags=re.IGNORECASE)
            read = interpret(calendar, vocab, as_of)
            nearest = tuple(dict.fromkeys(r for r in ((read.request,) if read.understood and not read.choices
                                                      else read.choices[:2]) + _asked(("/winrate ytd", "/trend"))))[:3]
        return Intent(UNKNOWN, (), choices=nearest, unsupported=True, note=concept.says)
    return None


# Targets the data does not hold: the team's attainment, a plan or a budget (a rep's "attainment" is /reps).
TARGETS = re.compile(r"\battainment\b|\b(hit|hitting|make|making|meet|meeting|reach|beat|miss|missing)( the| our| this)?"
                     r" (plan|target|budget)s?\b|\b(vs|to|tracking|pacing|ahead of|behind|under|over|above|below|short of)"
                     r"( the| our)? (plan|target|budget)s?\b")
REPS_NAMED = re.compile(r"\b(reps?|sellers?|aes?|salespeople|sales people|rep_?\d+|individuals?|leaderboard)\b")
# Pooling words: two values counted together ("APAC plus India combined"), not side by side.
# pooled: said so, or a range of bands ("deals 50k and up" reads as size_band=50k-100k,100k+)
POOLED = re.compile(r"\b(combined|together|pooled|altogether|in total|as one|as a group|lumped|plus)\b|(?<![\w+])\+(?![\w+])"
                    r"|\b(size|cycle)_band=\S+,")
OTHERS = re.compile(r"\bvs-others\b")
SEGMENT_NOUNS = re.compile(r"\b(segments?|regions?|industr(y|ies)|verticals?|products?|sources?|channels?|areas?|pockets?)\b")
COMPARATIVE = re.compile(r"\b(who|which)\b.*\b(better|worse|more|less|higher|lower|stronger|weaker)\b"
                         r"|\b(better|worse|more|less|higher|lower|stronger|weaker)\b.*\bthan\b")
# A rate of deals asked for, and a list of them asked for outright ("the deal list behind the win rate").
# A comparative about one value with nothing named to compare with: the comparison across its dimension.
# A claim checked ("partner deals are better. Is that true?") is the same comparison.
ACROSS = re.compile(r"^(do|does|are|is)\b.*\b((more|less) often|(win|close|convert)s? (more|less|better|worse))\b"
                    r"|\b(win|close|convert)s? (at|with) an? (higher|lower|better|worse|bigger|smaller) (rate|clip|percentage)\b"
                    r"|\b(deals?|opps?|opportunities|ones) (are|is|do|does) (really |actually |just )?(doing |performing "
                    r"|converting |closing )?(better|worse|stronger|weaker)\b")
# deals named by a stage they reached or died at, as a noun phrase (not "how many deals die in negotiation")
DEALS_AT_STAGE = re.compile(r"^(?!.*\b(how many|how much|rates?|%|percent\w*|share|often|where|why)\b)(the |all |our |any )?"
                            r"(\S+ ){0,2}(deals|opps|opportunities) (that |which )?(reached|got to|made it to|died|stalled"
                            r"|dropped out|fell through|were lost|we lost) ((in|at|to|past) )?(the )?(qualified|demo|proposal"
                            r"|negotiation)\b")
OPEN_STAGES = frozenset({"Qualified", "Demo", "Proposal", "Negotiation"})
RATE_ASKED = re.compile(r"\bwin ?rates?\b|\bwinrate\b")
LIST_ASKED = re.compile(r"\b(which|list|lists|listing|show|pull|export|csv|download|see|drill)\b|\bdeal list\b|\bdeals behind\b")
LUCK = re.compile(r"\b(unlucky|luck|lucky|chance|noise)\b")
# A plain question naming reps but asking for a rate by them is still /winrate ("win rate by rep").
WINRATE_BY = re.compile(r"^(?!.*\b(shrunk|shrinkage|luck-adjusted)\b).*?(\bwin ?rates?\b|\bwinrate\b).*\b(by|per)\b(?! (deal |sales )?(stages?|steps?)\b)")
FOLLOW_UP_START = re.compile(r"^(and|what about|how about|what of|same for|now|ok|okay|then|also)\b[\s,]*")
EVERYTHING = re.compile(r"\b(overall|all deals|everything|whole team|the team|everyone|all regions)\b")
# Words that only make a question a sentence. Unknown to the grammar, they are dropped quietly.
SENTENCE_WORDS = frozenset("""
vs-others vs-baseline luck-adjusted holding-constant suddenly combined together pooled altogether lumped
why did does do done our we us the a an drop dropped drops dropping fall fell falling fallen decline declined
declining go gone went going down up change changed changes changing happen happened happening is are was were
be been being how doing who whom which what whats what's when where weakest worst best strongest top bottom
segments segment biggest big largest smallest risk risks risky drives drive driving driver drivers wins
winning won't real noise noisy or trend trending explain explains explanation show me list deals deal from that
this these those there any can could would should will you your please tell give i my it its it's has have had
so very really much many more less than then same too also just lately recently now currently overall total
team performance performing perform lose losing loss losses happening get got make makes made rate rates win
win-rate winrate conversion close closing closed factors factor matters matter need needs needed attention
help helps look looking see seeing compare compared comparison versus and what's up down hurt hurting slip
slipping slipped worse better improve improved improving stuck stall stalled stalling stopping stop stops funnel stage stages
reps rep sales salespeople people sellers seller owners owner coach coaching performers performer behind
most key main top problems problem impact impacts pipeline over under into drill die dies dying getting get
gap gaps cycle-gap drop-off drop-offs dropoff predicts predict correlate correlates correlated time times
worst-performing over-time underperforming underperform below above team's how's whats quarter month year
caused cause causes reason reasons went wrong going on with for of in on at to by about vs is real luck
random significant number numbers digest summary weekly report quality health fresh data rows set aside
thing things it okay ok hi hello hey thanks thank trajectory trajectories story backstory regression regressions logit
worry worried bring fine steady stable flat solid selling
forecast forecasts forecasting book books booking bookings booked land likely probability probabilities
""".split()) | frozenset("""
dip dips slide slides sliding slump slumped tank tanked tanking killing kill dragging drag dragged pulling pull
pulled hurting hurts lower higher low high lowest highest bad badly poor poorly good great well fewer less
lately struggling struggle struggles lagging lag lags weak weaker weakness weaknesses strong stronger strength
trending trends trended declines rising rise rose rises climbing climb improving improvement recovering recover
recovery worsening deteriorating deteriorate tracking track pace doing performing fare fared faring going
root diagnose diagnosis understand break breakdown dig deep deeper insight insights idea ideas any
significantly statistically statistical fluke blip chance noise signal actually truly just only even still yet again
history historical historically over-time timeline time-series series month-over-month quarter-over-quarter
predict predicts predictor predictors levers lever influence influences influencing influencers influencer
attributes attribute characteristics common separates separate separating distinguishes traits differ
difference differences matter matters correlation correlations key biggest main primary secondary factor
weak weakest lagging underperforming underperformed problem problems areas area spots spot bleeding bleed
bleeds focus fix first priority priorities prioritize prioritise recommend recommendations recommendation
action actions opportunities opportunity stake revenue dollars money worst dragging segments parts part
business businesses portion portions corner corners
leaderboard leaderboards scorecard scorecards coach coaching coached attainment quota quotas carrying carry
ae aes account executives executive sdr sdrs bdr bdrs salesperson salespeople individual individuals
who's whose someone anyone anybody everybody person persons
stalled stale cold dark push pushed pushing slip slipping slippage outlook expect expected expecting
commit committed coverage upside land landing hit hitting target targets plan plans number quarter's next
opportunities opportunity opps opp open
beat beats beating converts convert converting versus vs compare compared comparison comparing against
better best worse worst more most often how percent percentage % share ratio proportion
list lists listing show shows showing display give tell see view pull bring fetch find get
deals deal opportunities accounts account
please pls plz thx ty kindly quick quickly quick-question question questions q qq
right now today currently current lately recent recently so far these days
does do did doing done is are was were am be been being has have had having will would could should can
might may must shall
a an the our we us you your my i me it its they them their this that these those there here
of in on at to for from with without by about into onto over under across between among within per
and or but if then than so as also too not no yes
what which who whom whose when where why how whats what's how's hows who's where's
really very much many more less lot lots bit little kind sort
know think wondering wonder curious ask asking asked tell telling
happening happened happen going on up with
overall total whole entire company companywide company-wide org organization organisation team teams
win wins won winning lose loses lost losing close closes closed closing
rate rates win-rate winrate close-rate hit-rate conversion conversions
performance perform performs performed
vary varies varying small large ones sized come came coming sourced source actually needle moves move
closer closers trouble danger jeopardy healthy unhealthy looks look looking qbr names name board meeting deck slides exec review against-team
once control controlling controlled else everything anything something nothing holding fixed constant odds
chance chances likelihood every each all lately recently faster slower quicker longer shorter days
""".split()) | frozenset("""
myself yourself himself herself ourselves themselves him her his hers them their theirs she he
ceo cfo cmo cro coo vp vps svp evp founder founders boss bosses investors upstairs leadership execs cmo's ceo's cfo's
revops salesops sales-ops ops rev-ops marketing-ops analyst analysts
monday tuesday wednesday thursday friday saturday sunday morning afternoon evening tonight tomorrow
prep prepping preparing prepare review reviews offsite presentation answer clear walk through sense
csv excel spreadsheet export download file attachment
rather instead genuinely honestly basically exactly roughly approximately normally usually typically state states status
proxy proxies effect effects affect affects affected confounded confounding confound care cares interested keep hearing
heard hear says said claims claim true untrue false correct right case
bearings decided undecided journey journeys collapse collapsed collapsing
""".split())
# Words that name a segment (a region, an industry, a product, a channel, a size) the data may not
# have. They are never dropped as sentence words: the reply names them and offers the closest values.
SEGMENT_LIKE = frozenset("""
latam emea amer apj anz dach nordics benelux uk usa us canada mexico brazil germany france japan china
australia singapore africa middle east mena west east north south central
europe asia america americas india apac pacific oceania nordic scandinavia iberia spain italy
netherlands sweden korea indonesia vietnam philippines malaysia thailand israel uae saudi
retail manufacturing healthcare banking insurance education government media telecom energy logistics
pharma biotech legal nonprofit hospitality automotive
smb sme mid-market midmarket mid market smb's startup startups strategic commercial corporate
web webinar webinars events event tradeshow seo paid organic social email marketing
premium basic starter standard professional plus ultimate
""".split())
CLOSE_WORDS = frozenset({"close", "closes", "closed", "closing"})
PERIOD_STARTS = frozenset({"last", "this", "past", "previous", "prior", "next", "trailing", "current"})
QUANTIFIERS = frozenset({"couple", "few", "several", "handful", "some", "many", "two", "three", "four", "one"})
# Words after which an unknown word is probably a segment ("win rate in Retail").
SEGMENT_PREPOSITIONS = frozenset({"in", "for", "from", "at", "among", "within", "across"})
# Keywords a typo may miss ("pipline", "forcast"): corrected to the closest before the rules run.
KEYWORDS = tuple(sorted({
    "why", "drives", "drivers", "factors", "predicts", "forecast", "pipeline", "funnel", "stages", "reps",
    "coaching", "coach", "sellers", "leaderboard", "segments", "weak", "weakest", "risk", "trend", "trending",
    "slipping", "declining", "improving", "doing", "performing", "explain", "happened", "changed", "deals",
    "lost", "won", "open", "which", "what", "rate", "rates", "close", "conversion", "quarter", "month", "year",
    "compare", "versus", "better", "worse", "health", "digest", "summary", "bookings", "stalled", "stale",
    "drop", "dropped", "decline", "falling", "going", "region", "industry", "product", "source", "win", "winning",
    "underperforming", "lagging", "performers", "quota", "attainment", "coverage", "commit", "opportunities",
    "bleeding", "leaking", "leaderboard", "driving", "losing", "risk", "cycle", "cycles", "monthly", "quarterly", "enterprise", "inbound", "outbound", "referral", "partner", "america",
    "winrate", "region", "regions", "industries", "products", "sources",
}))
# Words the grammar knows: never "corrected" to a keyword ("monthly" is not a typo of "month").
KNOWN_WORDS = frozenset(GRAIN_WORDS) | frozenset(UNIT_GRAIN) | frozenset(UNIT_DAYS) | frozenset(OUTCOME_WORDS) | {
    "today", "week", "weekly", "daily", "previous", "prior", "current", "latest", "since", "until", "through"}
# Sales phrasings rewritten into the grammar's words before it reads them.
SALESPEOPLE = ((r"\bsales ?(person|persons)\b|\baccount executive\b", "rep"),
               (r"\baccount executives\b", "reps"))
ALERTING = re.compile(r"\b(alerts?|notify|warn|ping|let (me|us) know)\b")  # "alert when the gap between sources …"
PHRASES: tuple[tuple[str, object], ...] = (  # (pattern, words or a function of the match)
    *SALESPEOPLE,  # "win rate by salesperson": by rep
    # "is the decline concentrated in one region or everywhere": where it is, the why's own question
    (r"\b(concentrated|isolated|locali[sz]ed) (in|to) (one|a single|a few|some|a) (regions?|industr(y|ies)|verticals?|products?"
     r"|segments?|sources?|channels?)( or (is it )?(everywhere|across the board|all over|broad\w*|spread out))?", "concentrated"),
    (r"\bby (the )?(last|final|furthest|latest) stage( (reached|hit|got to))?\b", "by stage"),
    # "is outbound worse than it was last year": against last year (the quarter before: the previous period)
    (r"\b(than|vs) (it|they|we|that|this) (was|were|did|had|used to be|looked)( in)? (last year|a year ago)\b", "vs last year"),
    (r"\b(than|vs) (it|they|we|that|this) (was|were|did|had|used to be|looked)( in)? (last quarter|the quarter before)\b",
     "vs previous"),
    # "did referral get worse this year": this year against the last (this quarter, this month: the one before)
    (r"\b(get|got|gotten|become|became|go|gone|went) (worse|better|weaker|stronger) (so far )?this (year|quarter|month)\b",
     lambda m: "this year vs last year" if m.group(4) == "year" else f"this {m.group(4)} vs previous"),
    (r"\ball of (\d{4}|last year)\b", r"\1"),  # "2024 so far vs all of 2023": the year itself
    # "does cycle length affect win rate", "do long cycles kill win rate": the rate by cycle band (the drivers model
    # leaves the cycle out: it is known only once a deal has closed)
    (r"\b(does|do|did|is|are|how (does|do|did))( the| our)?( sales)? (cycle (length|time|duration)s?|long(er)?( sales)? cycles?"
     r"|short(er)?( sales)? cycles?|length of (the |our )?(sales )?cycles?) (really |actually )?((affect|impact|kill|hurt|help"
     r"|lower|raise|drag down|change|matter for|influence)s? (our |the )?(win ?rates?|winrate)|(lose|win|close) (more|less)( often)?)\b",
     "win rate by cycle"),
    # "are the regional differences real", "the spread between reps": the values side by side (the reps: their table)
    (r"\b(regional|regions?|industry|industries|verticals?|products?|lead sources?|sources?|channels?) (differences|gaps?"
     r"|spread|variation)\b", lambda m: m.group(0) if ALERTING.search(m.string) else "win rate by " + {"regional": "region", "regions": "region", "industries": "industry",
                                                        "vertical": "industry", "verticals": "industry", "products": "product",
                                                        "lead source": "source", "lead sources": "source", "sources": "source",
                                                        "channel": "source", "channels": "source"}.get(m.group(1), m.group(1))),
    (r"\b(differences|gaps?|spread|variation) (between|across|among) (the |our )?(regions|industries|verticals|products"
     r"|lead sources|sources|channels)\b", lambda m: m.group(0) if ALERTING.search(m.string) else "win rate by " + {"regions": "region", "industries": "industry",
                                                                           "verticals": "industry", "products": "product",
                                                                           "lead sources": "source", "sources": "source",
                                                                           "channels": "source"}[m.group(4)]),
    # "how it compares to Q1", "compare to same quarter last year": the comparison, not a word left over
    (r"\b(and )?(how (it|that|this|they|we|the rate) )?(compares?|stacks? up|measures? up) (to|with|against)\b", " vs "),
    # the whole of the data: "since we started tracking", "since the beginning", "all time"
    (r"\bsince (we (started|began) (tracking|recording|logging|selling)|(the )?(very )?(start|beginning)(?! of (the |this )?(year|quarter|month|fy))( of (time|tracking|the data))?"
     r"|inception|day one|forever|records began)\b|\bof all[- ]time\b|\ball[- ]time\b"
     # "which lead sources win best historically", "across everything we have", "all history"
     r"|\bhistorically\b|\bacross (all of |everything )?(the data|everything)( we have| there is)?\b|\ball (of )?(our |the )?history\b",
     " all "),
    (r"\ball of a sudden\b", "suddenly"),
    # "by segment - region x industry", "segments: region and product": the dimensions named are the split
    (r"\b(by|per|across) segments?\s*[-:]?\s*(?=(regions?|industr(y|ies)|verticals?|products?|lead sources?|sources?"
     r"|channels?|sizes?|geos?)\b)", "by "),
    (r"\ball (else|other things) (being )?equal\b|\bceteris paribus\b|\bholding (everything|all) else\b",
     "holding-constant"),
    (r"\b(q/q|qoq|quarter[- ](on|over)[- ]quarter) (change|delta|difference|move|swing)\b"
     r"|\b(change|delta|difference|move|swing) (q/q|qoq|quarter[- ](on|over)[- ]quarter)\b", "change vs previous period"),
    (r"\b(the )?(win )?rate (vs|versus|or) (the )?mix\b|\bmix (vs|versus|or) (the )?(win )?rate\b", "rate or mix"),
    (r"\b(for )?(each|every) of the (last|past) (\d+) (quarter|month)s\b", r"last \4 \5s \5ly"),
    (r"\b(first|second|third|fourth|1st|2nd|3rd|4th) quarter\b( of)?",
     lambda m: "q" + str("first second third fourth".split().index(m.group(1)) + 1 if m.group(1).isalpha()
                         else int(m.group(1)[0]))),
    (r"\bwin[/ -]?loss( ratio| rate| record)?\b", "win rate"), (r"\bttm\b", "last 12 months"),
    # a change since last year is against a year before; since last quarter, the last quarter against the one before it
    (r"\b(change[sd]?|drop(ped)?|declined?|moved?|shift(ed)?|improved?|improvement|fallen|fell|risen|rose|differen\w+)"
     r"((?: (?!since\b)[\w']+){0,4}) since (last year|a year ago)\b", r"\1\4 vs last year"),
    (r"\b(change[sd]?|drop(ped)?|declined?|moved?|shift(ed)?|improved?|improvement|fallen|fell|risen|rose|differen\w+)"
     r"((?: (?!since\b)[\w']+){0,4}) since (last|the previous|the prior) (quarter|q|qtr)\b", r"\1\4 last quarter vs previous"),
    # "win rate by amount", "by dollar value vs by count": the rate by amount, shown beside the win rate (a split by
    # size is asked as "by size" or "by amount band")
    (r"\b(win ?rates?|winrate|close rates?|rates?) by (the )?(dollar |\$ ?)?(value|amount|dollars?|revenue|\$)"
     r"(?! (bands?|buckets?|ranges?|tiers?|brackets?|sizes?)\b)( (vs|and|or|versus|not) (by )?(count|number|volume|deals?))?\b",
     r"\1"),
    # "…, by count and by dollars": the win rate shows both already
    (r",? (by|in) (count|number|volume|deals?),? (and|or|plus) (by |in )?(value|dollars?|revenue|amount)\b", " "),
    (r"\bby (value|dollars?|revenue|amount),? (and )?not (by )?(count|number|volume|deals?)\b"
     r"|\b(dollar|value|revenue|amount)[- ]weighted\b", " "),
    (r"\b(bigger|larger|smaller) (deals|opps|opportunities|ones)\b", "deals by size"),
    (r"\b(every|each|any|which|what) (big|large|huge) deal\b", r"\1 100k+ deals"),
    (r"\b(won|lost|open|closed) list\b", r"\1 deals"),
    (r"\b(open )?pipeline list\b|\blist (of )?(the )?(open )?pipeline\b", "list open deals"),
    (r"\bdrag(s|ged|ging)? (out|on)\b|\btak(e|es|ing) (forever|ages|so long|too long)\b", "taking longer on"),
    (r"\bexpected (won |closed |booked )?(amounts?|revenue|bookings|value|dollars)\b"
     r"|\bexpected (close|closing|win|conversion) rates?\b", "forecast"),
    (r"\bthan (before|previously|earlier|it used to|we used to)\b", " vs-baseline "),  # the usual baseline
    # "which region had the worst quarter last quarter": the worst of them in that period, not quarter by quarter
    (r"\b(best|worst|strongest|weakest|highest|lowest) (quarter|month)\b(?= (last|this|previous|prior) (quarter|month|q|qtr)\b)",
     r"\1"),
    (r"\b(which|best|worst|strongest|weakest|highest|lowest) (quarter|month)s?\b(?! (to date|so far))",
     lambda m: m.group(2) + "ly"),  # "which quarter was our best": quarter by quarter
    (r"\b(sales |quick )?health ?check (on|of|for) (the |our |this )?(data|crm|export|extract|file)\b", "data health"),
    (r"\bpipeline health ?check\b", "pipeline"),  # the open deals' health: the forecast
    (r"\b(?:ever )?since (?:the )?(?:data|records?|history) (?:starts?|started|begins?|began)\b"
     r"|\bsince the (?:start|beginning) of (?:the )?(?:data|records|history)\b", "ever"),  # the whole history
    (r"\b(?:for |in )?(?:each|every) quarter\b(?! (?:send|post|dm))", "quarterly"),
    (r"\ball (?:of )?(our|these|those|my) (deals|opps|opportunities)\b", r"\1 \2"),  # a determiner, not the period "all"
    # "proposal-stage deals": the deals in that stage (a filter), not the funnel's steps
    (r"\b(qualified|demo|proposal|negotiation)[- ]stage (deals|opps|opportunities)\b", r"\2 in \1"),
    (r"\bdecreas(e|es|ed|ing)\b", "decline"), (r"\btendenc(y|ies)\b", "trend"),  # plain synonyms a non-native writer uses
    (r"\brespond(s|ed)? (best|better|worst|worse|well|badly)\b", r"convert \2"),
    (r"\bwhere does (the |this |our )?data come from\b", "data freshness"),
    (r"\bsince (the )?(start|beginning) of (the )?year\b", "ytd"),
    (r"\bdata health ?check\b", "data health"),  # the data's health: /health (a "health check" alone is the digest)
    (r"\b(sales |quick )?health ?check\b", "digest"),
    # "what's likely to close by end of quarter": this quarter, the forecast's own horizon
    (r"\b(by|before|until|till|through) (the )?end of (the |this )?(quarter|q)\b", "this quarter"),
    # which dimension to invest in: the best of it
    (r"\b(should|to|could) (we |i )?(double down on|invest (more )?in|bet on|lean into|put more into)\b", "are best"),
    (r"\b(deal |sales )?velocity\b", "cycle-gap"),
    # "in proposal or later": that stage and the ones after it
    (r"\b(qualified|demo|proposal|negotiation)( stage)? (or|and) (later|beyond|after|further|above|up)\b"
     r"|\b(qualified|demo|proposal|negotiation)( stage)? (on|onwards|onward|\+)(?!\w)",
     lambda m: "deal_stage=" + ",".join(STAGE_ORDER[STAGE_ORDER.index((m.group(1) or m.group(5)).title()):])),
    (r"\bwhat is (the deal|the story|up) with\b", "what is going on with"),  # an idiom: what happened there
    (r"\b(rate|mix)( effects?)? (vs\.?|versus|or|and) (rate|mix)( effects?)?\b", "decomposition"),  # the why's split
    # "the APAC lead", "our EMEA head": a person, not the lead source
    (r"\b(the|our|my|your|their|a|an) ((\w+ ){0,2})(lead|head|director|leader|vp|svp)\b(?! (sources?|gen\w*|scor\w*|time)\b)",
     r"\1 \2"),
    # "does cycle length matter for win rate": the rate across cycle bands (the drivers' model takes no cycle)
    (r"\b(does|do) (the )?(sales )?(cycle[- ]?(length|time|duration|gap)s?|(sales )?cycles?) (really |actually )?matter\b"
     r"( (for|to|on) (the |our )?(win rate|winning|closing))?(?!.*\b(correlat\w*|confound\w*|control\w*|account\w* for"
     r"|proxy)\b)", "win rate by cycle"),
    # "where in APAC are we losing": the weak segments there, not the funnel (which "where in the funnel" keeps)
    (r"\bwhere in (?!the (funnel|process|pipeline|cycle|stages?)\b)(.+?) (are|do) we (lose|losing)\b", r"\2 where are we losing"),
    # "region leaderboard": a ranking of a dimension that is no rep is the rate by it
    (r"\b(regions?|industr(y|ies)|verticals?|products?|lead sources?|sources?|channels?|geos?) (leaderboard|ranking|league table)s?\b",
     r"win rate by \1"),
    # open too long: stalled deals, the forecast's subject
    (r"\b(open|sitting|aging|ageing|idle|stuck) (for )?(too long|forever|ages|months|a long time)\b", "stalled"),
    (r"\bexpected (won|closed|booked) (deals|opps|opportunities)\b", "forecast"),
    # the health of an analysis' subject is that analysis, never a segment the word begins ("pipeline health" is no HealthTech)
    (r"\b(pipeline|funnel|forecast|win rate|team|reps?|deals?) (health|healthiness|status|state)\b", r"\1"),
    (r"\b(health|healthiness|state|status) of (the |our |my )?(pipeline|funnel|forecast|win rate|team|reps?|deals?)\b", r"\3"),
    # money won: "how much did we close", "how much revenue did we win in Q1", "closed-won amount": the deals won, totalled
    # ("how much did we win" alone stays the win rate, as the first corpus pins)
    (r"\bhow much (revenue |money |business |dollars )(did|have|has) (we|you|the team|\w+) (close|closed|win|won|book"
     r"|booked|bring in|brought in|land|landed)\b|\bhow much (did|have|has) (we|you|the team|\w+) (close|closed|book"
     r"|booked|bring in|brought in|land|landed)\b|\b(closed?[- ]won|won|booked) (amounts?|revenue|dollars|values?)\b"
     r"(?!.*\b(win rate|over|vs)\b)", "won deals"),
    (r"\bat[- ]risk (amounts?|dollars|values?|\$+)\b|\b(amounts?|dollars|value) at[- ]risk\b(?=.*\b(pipeline|open|forecast)\b)",
     "at-risk pipeline"),  # the forecast's at-risk amount per segment (revenue at risk stays the weak segments')
    # "what's our revenue this year": the deals won, totalled (revenue expected, at risk or retained stays theirs)
    (r"\bwhat (is|was|are|were) (our |the )?(total |closed |booked |won )?(revenue|bookings|sales)\b(?! (at risk|retention|growth))"
     r"(?!.*\b(expect\w*|will|next|forecast\w*|at risk|retention|from the open|pipeline|per|by|growth|trend\w*)\b)", "won deals"),
    (r"\b(won|closed|lost|open|total|booked) (amounts?|dollars|values?)\b", " "),
    # "what did rep_4 close last quarter": what they won (a list, totalled), as "what did we win"
    (r"\bwhat (did|have|has) (\w+( \w+)?) (close|closed)\b(?! (rate|deals?|at)\b)", r"what \1 \2 won"),  # a measure, not a split by size
    (r"\bwill (be )?(closing|landing|winning)\b|\b(is|are) (?=(\S+ )?closing (this|next) (quarter|month)\b)", "will close "),
    (r"\bhow likely (is|are) (.+?) to (close|win|land|book)\b", r"forecast \2"),
    (r"\b(during|over|across|through|in|by) the (months|quarters)\b", lambda m: m.group(2)[:-1] + "ly"),
    (r"\b(so |very |much |that )?different (from|than|to)\b", "vs"),
    (r"\b(below|above|under|short of|behind|ahead of) (last year'?s?|a year ago|the year before)(?!\w)", "vs last year"),
    (r"\bthan (in|during|for|over) (?=(the )?(\d{4}|q[1-4]|h[12]|last|this|previous|prior|first|second)\b)", "vs "),
    (r"\b(vs|against) (the )?(trailing|previous|prior|preceding|last) (4|four) quarters\b|\bvs what (came|went|was) before\b",
     " vs-baseline "),
    (r"\bregional (sales )?(teams?|reps|sellers|managers|leaders)\b", r"by region \2"),
    (r"\bby (the )?(sales )?cycle[- ]?(gap|time|length|duration)s?\b|\bby (sales )?cycles?\b", "by cycle"),
    (r"\b(take|takes|took|taking|with (a )?cycles?( of)?|cycles?) (more than|over|longer than|above|beyond) (90|ninety) "
     r"days( to close)?\b|\b(more than|over|longer than) (90|ninety) days to close\b", "90d+"),
    (r"\b(take|takes|took|taking|with (a )?cycles?( of)?|cycles?) (less than|under|within|shorter than|below|in under) "
     r"(30|thirty) days( to close)?\b|\bclosed (inside|within|in less than|in under) (30|thirty) days\b", "<30d"),
    (r"\b(compared (to|with)|against|vs\.?|versus|and) (the |all )?(other|rest of the|rest of our|remaining) "
     r"(regions|industries|verticals|products|lead sources|sources|channels|geos)\b", r"by \5 vs-others"),
    (r"\b(beating|beat|beaten|ahead of|behind|outpacing) (last year|a year ago|the same (quarter|period) last year)\b",
     "vs last year"),
    (r"\b(compared (to|with)|against|relative to|versus)\b", "vs"),
    (r"\bvs\.?\s+(the\s+)?(previous|prior|preceding|last)\s+\d+( days?| weeks?| months?| quarters?)?(?!\w)", "vs previous"),
    (r"\b(lower|higher|worse|better|down|up|different) (than|from|vs) (last year|a year ago|the same quarter last year)\b",
     "vs last year"),
    (r"\b(lower|higher|worse|better|down|up|different) (than|from|vs) (last|the previous|the prior) (quarter|period)\b",
     "vs previous"),
    (r"\b(won|winning|wins)\b(.*?)\b(vs|versus|and|or)\s+(lost|losing|losses)( deals| ones)?\b", r"\2"),
    (r"\b(vs|against) (the )?(team|rest|average|peers|others)( of the team)?\b", " against-team "),
    (r"\b(vs|against|compared to|versus) (everyone|everybody|everything|every\w*|all|the world) else\b", " against-team "),
    # "2023 vs the year before": a year earlier (for a year, the one before it; for a quarter, the same quarter)
    (r"\bvs\.?\s+(the\s+)?year\s+(before|prior|earlier)\b", "vs last year"),
    (r"\bvs\.?\s+(the\s+)?(\d+\s+)?(quarters?|months?|days?|weeks?|periods?|ones?|half|halves)?\s*before\b", "vs previous"),
    (r"\b(q/q|qoq|quarter on quarter|quarter over quarter)\b", "quarterly"),
    (r"\b(this year|ytd) than last year\b", "ytd vs last year"),
    (r"\b(come in |came in |coming in )?(lower|higher|worse|better|weaker|stronger) than\b", "vs"),
    (r"\bbetween (\d{4}q\d|\d{4}-\d\d|\d{4}|q\d) and (\d{4}q\d|\d{4}-\d\d|\d{4}|q\d)\b", r"\2 vs \1"),
    (r"\bclosed?[- ]won\b|\bclose[- ]win\b", "won"), (r"\bclosed?[- ]lost\b", "lost"),
    (r"\b(\w+)-sourced\b", r"\1"), (r"\bsourced? (by|from|via|through) (\w+)", r"\2"),
    (r"\b(the )?(size|amount|value)s? of (the |a |our )?(deals?|opps?|opportunities)\b", "size"),
    (r"\bdeal[- ](size|amount|value)s?( bands?)?\b", "size"),
    (r"\b(vs|than) (what )?(we would|we'd|you would|you'd|one would|it would|we)? ?(normally |usually |typically )?"
     r"(expect|expected|predict|predicted|baseline)\b|\b(vs|than) (the )?(expected|baseline|norm)\b", " "),
    (r"\bby (factors?|drivers?|variables?|features?|attributes?)\b", r"\1"),
    (r"\b(after |once |when )?(accounting|adjusting|controlling|correcting) for (luck|chance|noise|small samples?"
     r"|sample sizes?)\b", "luck-adjusted"),
    (r"\b(the |a )?(difference|gap) between ([a-z][\w-]*( [a-z][\w-]*)?) and\b", r"\3 vs"),
    (r"\b(across|for each|for every|per) (lead sources?|regions?|industries|products?|sizes?)\b", r"by \2"),
    (r"\b(across|for|by) (each|every|all) of (our|the) (lead sources|regions|industries|verticals|products|channels|geos)\b",
     lambda m: "by " + SPLIT_NOUNS.get(m.group(4), SPLIT_NOUNS.get(m.group(4)[:-1], m.group(4)))),
    (r"\b(chances?|odds|likelihood|probability) (that )?(we|they|it|these|those)( will)? (close|win|land)\b", "forecast"),
    (r"\b(sub-?|under |below |less than )\$?10k\b", "<10k"), (r"\b(big|large)-deals?\b|\b(big|large) deal(?= (win|close|hit|conversion|loss|losses|wins)\b)", "100k+"),
    (r"\b(small|tiny) ones\b", "<10k"), (r"\b(big|large|huge) ones\b", "100k+"),
    (r"\b(list|show|pull|give|get)( me)? all\b", r"\1\2"), (r"\ball (?=(open|won|lost) )", ""),
    (r"\b(last|past|next|trailing) (two|three|four|five|six|seven|eight|nine|ten|eleven|twelve)\b",
     lambda m: f"{m.group(1)} {NUMBER_WORDS.index(m.group(2)) + 2}"),
    (r"\bsince (jan(uary)? (1st|1|first)|the (start|beginning) of (the )?year|new year)\b", "ytd"),
    (r"\b(over|above|more than|bigger than|larger than) \$?100k\b", "100k+"),
    (r"^((\w+ ){1,2})open pipe(line)?$", r"\1open deals"),
    # "show open pipeline deals for NA", "list the pipeline opps": the open deals, listed (not the forecast)
    (r"\b(show|list|pull|give|get|see|export|send)( me| us)?( the| all| our| all the| all our)? (open )?(pipeline|pipe) "
     r"(deals|opps|opportunities)\b", r"\1\2 open deals"),  # "india open pipe": the open deals there, not the forecast
    (r"\b(\d+)k?-(\d+)k\b", r"\1k-\2k"), (r"\bopen pipe\b|\bthe pipe\b|\bpipe\b", "pipeline"),
    (r"\bby (win|close|hit|conversion) rates?\b", " "), (r"\bpush(ed|ing)? out\b", "slip"), (r"\bout\b", " "),
    (r"\bclos(e|ed|es|ing)\b(?= (the )?most\b)", "win"),
    (r"\bquarter[- ](by|over|on)[- ]quarter\b|\bqoq\b", "quarterly"), (r"\bmonth[- ](by|over|on)[- ]month\b|\bmom\b", "monthly"),
    (r"\b(close|closing|hit|conversion|success) rates?\b", "win rate"), (r"\bcycle (gap|time|length)s?\b", "cycle-gap"),
    (r"\bwill (we |they |it |these( deals)? |those( deals)? )?(close|win|land)\b|\blikely to (close|win|land)\b", "forecast"),
    (r"\bopen pipeline\b", "pipeline"),
    (r"\blast (q|qtr)\b", "last quarter"), (r"\bthis (q|qtr)\b", "this quarter"),
    (r"\bprevious (q|qtr)\b", "last quarter"), (r"\bprior (q|qtr)\b", "last quarter"),
    (r"\b(this|current) (fy|fiscal year)\b|\bfytd\b|\bfy to date\b|\byear to date\b|\bso far this year\b", "ytd"),
    (r"\b(last|previous|prior) (fy|fiscal year)\b", "last year"),
    (r"\bquarter to date\b", "qtd"), (r"\bmonth to date\b", "mtd"),
    (r"\bthis year (vs|versus|against|compared to|compared with|over) last\b(?! (year|quarter|month|week|\d))", "ytd vs last year"),
    (r"\bthis year\b|\b(for|over|in) the year\b(?! (before|ago|after|\d))", "ytd"),
    (r"\b(in|over|during) the (last|past) (\d+) (days|weeks|months|quarters)\b", r"last \3 \4"),
    (r"\b(over|during|across) the (last|past) year\b", "last 12 months"),  # a span, not the calendar year
    (r"\b(the )?(previous|prior|last) one\b", "previous"),
    (r"\bvs\.?\s+(the\s+)?(previous|prior|last)\s+(quarter|period|month|one)\b", "vs previous"),
    # "h2 2023 vs the previous (or last) half": the half before it, never the calendar's last half (which may come after it)
    (r"\b(h[12] (?:of )?'?\d{2,4}|\d{4} ?h[12]|(?:first|second) half of \d{4})(.*?)\bvs\.?\s+(the\s+)?(previous|prior|preceding|last)\s+half\b",
     r"\1\2vs previous"),
    (r"\bvs\.?\s+(the\s+)?same (quarter|period|time|point|date|stage|month|week)( in time)? (last year|a year ago)\b",
     "vs last year"),
    (r"\b(year[- ]over[- ]year|year[- ]on[- ]year|yoy|y/y)\b", "vs last year"),
    (r"\bthan (a year ago|last year|the year before|the same (quarter|period|time) last year)\b", "vs last year"),
    (r"\bthan (the )?(previous|prior|last) (quarter|period|month)\b|\bthan the (quarter|month) before\b", "vs previous"),
    (r"\bregional (win rates?|numbers|results|breakdown)\b", r"\1 by region"),
    (r"\bemea\b", "europe"), (r"\bamericas\b", "north america"),
    (r"\b(big|large|huge|enterprise-size) (deals|opportunities|opps)\b", "100k+ deals"),
    (r"\b(small|tiny) (deals|opportunities|opps)\b", "<10k deals"),
)
PERIOD_TOKEN = r"\d{4}-\d\d-\d\d\.\.\d{4}-\d\d-\d\d|\d{4}q[1-4]|\d{4}-\d\d|\d{4}"
NUMBER_WORDS = "two three four five six seven eight nine ten eleven twelve".split()
# Contractions and chat spellings, spelt out so the rules need one form.
SPELLINGS: tuple[tuple[str, str], ...] = (
    (r"\bwhat'?s (changed|happened|gone|been going)\b", r"what has \1"), (r"\bwhat'?s\b", "what is"), (r"\bhow'?s\b", "how is"), (r"\bwho'?s\b", "who is"),
    (r"\bwhere'?s\b", "where is"), (r"\bthat'?s\b", "that is"), (r"\bwe're\b", "we are"),
    (r"\bthey're\b", "they are"), (r"\b(is|are|was|were|do|does|did|has|have)n'?t\b", r"\1 not"),
    (r"\bcan'?t\b", "cannot"), (r"\br\b", "are"), (r"\bu\b", "you"), (r"\bya\b", "you"), (r"\bur\b", "our"),
    (r"\bwat\b", "what"), (r"\bwhy'?d\b", "why did"), (r"\bwy\b|^y\b", "why"), (r"\bwhre\b|\bwher\b|\bwhree\b|\bwehre\b", "where"),
    (r"\bhwo\b", "how"), (r"\bwr\b", "win rate"), (r"\b(win|close|hit) ?(%|pct\b|percentage\b)", "win rate "), (r"\bskus\b", "products"), (r"\bsku\b", "product"),
    (r"\bqtr\b", "quarter"), (r"\b(qualified|demo|proposal|negotiation)-to-(demo|proposal|negotiation|close|closed|won|win)\b",
                                r"\1 to \2"),
    (r"\bfy ?'?(\d\d)\b", r"20\1"), (r"\bfy ?(\d{4})\b", r"\1"),
    (r"\b(last|this|previous|prior|next) (quarter|month|year|week|qtr|q)'?s(?= (win|close|hit|conversion|numbers?"
                     r"|losses|wins|deals|opps|pipeline|forecast|results?|bookings|trend|performance|drop|decline)\b)", r"\1 \2"),
    (r"\bf'?ca?st\b|\bfcsts\b", "forecast"),
    # "last year's Q2", "this year's H1": that year's quarter or half, as "Q2 last year" reads
    (r"\b(last|this) year'?s (q[1-4]|h[12]|first half|second half|(first|second|third|fourth) quarter)\b", r"\2 \1 year"),
    (r"\b(\d{4})'?s (q[1-4]|h[12])\b", r"\2 \1"),
    # a slip in "win" before "rate" ("wn rate", "wni rate", "winn rate")
    (r"\b(wn|wi|wni|iwn|wim|wun|winn|wiin|wln)(?= ?rates?\b)", "win"),
(r"\bsrcs?\b", "source"), (r"\bnamer\b", "north america"),
    (r"\bq([1-4]) (\d{4})\b", r"\2q\1"),  # "Q2 2023"
 (r"\bqtrs\b", "quarters"), (r"\byr\b", "year"), (r"\byrs\b", "years"), (r"\bly\b", "last year"),
    (r"\bl(\d+)(q|m|d|w|y)\b", lambda m: f"last {m.group(1)} " + {"q": "quarters", "m": "months", "d": "days", "w": "weeks",
                                                                "y": "years"}[m.group(2)]),  # "l4q", "l12m" (r"\bttm\b", "last 12 months"),
    (r"\bq([1-4])\s*'(\d\d)\b", r"20\2q\1"),  # "Q1 '24"
    (r"\b(\d{4}) q([1-4])\b", r"\1q\2"),  # "2023 Q1": one quarter, not the year and this year's Q1
    # "this week than last week": the seven days against the seven before (both read "last 7 days", the second dropped)
    (r"\b(?:this|current) week\b(.*?)\b(?:vs|than|against) (?:the )?(?:last|past|previous|prior) week\b",
     r"last 7 days\1 vs previous"),
    # "what should I focus on this week": the week to act in, as "today" is, not seven days of closed deals
    (r"\b(focus(?:ing)?(?: on)?|prioriti[sz]e|work on|tackle|fix)( first)? (?:this|the coming|next) week\b", r"\1\2"),
    (r"\b(last|past|previous|prior|this|current) week\b", "last 7 days"), (r"\byesterday\b", "last 1 days"),
    (r"\bsemesters?\b|\bhalf[- ]years?\b", "half"),  # "the first semester", "last half-year"
    (r"\bhow (much|many) time\b", "how long"),
    (r"\b(first|1st)[- ]half\b", "h1"), (r"\b(second|2nd)[- ]half\b", "h2"), (r"\b(\d{4}) (h[12])\b", r"\2 \1"),
    (r"\bloosing\b", "losing"), (r"\bloose\b", "lose"), (r"\bhw\b", "how"),
    # "ytd vs last ytd", "this ytd against the prior ytd": the same days a year before
    (r"\b(vs|versus|against|than|compared to|compared with) (the )?(last|previous|prior|last year's) ytd\b", r"\1 last year"),
    # "channel deals", "channel-sourced", "the channel business": the partner channel (a split is "by channel")
    (r"\bchannel[- ]partners?\b", "partner"),
    (r"\bchannel[- ](deals?|opps|opportunities|business|sales|sourced|bookings|revenue|pipeline|pipe|wins|losses)\b", r"partner \1"),
    # "sanity-check the dataset": the data's health; "rep stack rank": the ranking
    (r"\bsanity[- ]?check(?:ing)?(?: on| of)?(?: the| our| this)? (?:data ?sets?|data|crm|export|extract|file)\b", "data health"),
    (r"\bstack[- ]?rank(ing|ed|s)?\b", r"rank\1"),
    # "how do deal size and product interact": the two dimensions together, a split by both
    (r"\bhow (?:do|does) (?:the )?([\w ]+?) and (?:the )?([\w ]+?) (?:interact|combine|play together)\b", r"win rate by \1 and \2"),
    (r"\bhow we (doing|going|tracking|looking|performing)\b", r"how are we \1"), (r"\bplz|pls\b", "please"), (r"\bw/\s*", "with "),
    # a question inside a sentence ("tell me how APAC is doing", "how rep_3 has been doing") in a question's own order;
    # "what is Pro doing" asks the same as "how is Pro doing"
    (r"\bhow (?!(?:is|are|was|were|has|have|had|did|do|does|much|many|long|often|far|come|about|they|we|you|it|i|he|she|things)\b)((?:[\w']+ ){1,3}?)"
     r"(is|are|was|were) (doing|performing|going|tracking|looking|faring)\b", r"how \2 \1\3"),
    (r"\bhow (?!(?:is|are|was|were|has|have|had|did|do|does|much|many|long|often|far|come|about|they|we|you|it|i|he|she|things)\b)((?:[\w']+ ){1,3}?)"
     r"(has|have) been (doing|performing|going|tracking|looking|faring)\b", r"how \2 \1been \3"),
    (r"\bwhat (is|are) (?!(?:we|you|they|i|it|that|this|the data)\b)((?:[\w']+ ){1,2}?)doing\b", r"how \1 \2doing"),
)
STAGE_ORDER = ["Qualified", "Demo", "Proposal", "Negotiation"]
# The deal stages a conversion runs between ("from demo to proposal", "qualified to won").
STAGE_WORDS = frozenset({"qualified", "demo", "proposal", "negotiation", "closed", "close", "won", "lost"})
MONTHS = {m: i for i, m in enumerate(("january", "february", "march", "april", "may", "june", "july", "august",
                                      "september", "october", "november", "december"), 1)}
MONTHS.update({m[:3]: i for m, i in list(MONTHS.items())})
# Which plural nouns ask for a split by their dimension ("which regions", "best region").
SPLIT_NOUNS = {"region": "region", "regions": "region", "geo": "region", "geos": "region",
               "industry": "industry", "industries": "industry", "vertical": "industry", "verticals": "industry",
               "product": "product_type", "products": "product_type", "lead source": "lead_source",
               "lead sources": "lead_source", "source": "lead_source", "sources": "lead_source",
               "channel": "lead_source", "channels": "lead_source", "segment size": "size_band",
               "deal size": "size_band", "size": "size_band", "regional": "region"}
SPLIT_ASK = re.compile(r"\b(which|what|best|worst|top|bottom|each|every|highest|lowest|strongest|weakest|rank|sort)( \w+)?? "
                       r"(lead sources?|regions?|regional|geos?|industr(y|ies)|verticals?|products?|sources?|channels?"
                       r"|deal sizes?|sizes?)\b")

@dataclass(frozen=True)
class Request:
    """One reading of a question, parsed once: the command, its Query, and the same as a command line
    (what a thread keeps as its context and a button carries). `query` is None when the grammar has
    not read the arguments: a command line passed through, a reading named in advance, or arguments
    with a problem the answer will name."""

    command: str
    line: str
    query: Query | None = None


def _request(command: str, query: Query | None, text: str) -> Request:
    return Request(command, f"/{command} {text}".strip(), query)


@dataclass(frozen=True)
class Intent:
    """What a plain question asks: the request the commands answer, and how it was read."""

    request: Request  # "/why APAC last quarter" and its Query
    dropped: tuple[str, ...] = ()  # sentence words left out (for the record; never shown as problems)
    follow_up: bool = False
    choices: tuple[Request, ...] = ()  # when unsure: the likeliest readings, best first, to ask back with
    alternatives: tuple[Request, ...] = ()  # when answered: the next likeliest readings, to pick with one click
    unsupported: bool = False  # asks for something no analysis measures (average deal size, quota)
    note: str = ""  # why it is asked back, when that is known ("No deals closed in 2019Q3: …")
    contested: str = ""  # the contested shape it was asked back for ("how-doing"), when careful readers disagree
    unplaced: tuple[str, ...] = ()  # words no part of the bot could place ("mumbai"): asked back, naming them

    @property
    def command(self) -> str:
        """A command name, or "unknown"."""
        return self.request.command

    @property
    def line(self) -> str:
        return self.request.line

    @property
    def understood(self) -> bool:
        return self.command != "unknown"


def _asked(lines: tuple[str, ...]) -> tuple[Request, ...]:
    """Readings named in advance (the closest ones to a question no analysis answers) as requests."""
    return tuple(Request(split_command(line)[0], line) for line in lines)


UNKNOWN = Request("unknown", "/help")
WRITE_ASKED = re.compile(r"^(?:please )?(?:can|could|would|will) you (?:please )?(?:fix|change|edit|update|correct|delete|"
                         r"remove|clean( up)?|merge|reassign|move|overwrite)\b(?!.*\b(alerts?|follows?|following|digest)\b)")
EVENT_ASKED = re.compile(r"\b(?:did|has|have|does|do) (?:the|our|that|this|those|these) (?:\S+ ){0,2}?(?P<event>trainings?|"
                         r"workshops?|bootcamps?|offsites?|kick-?offs?|enablement|reorg|re-org|webinars?|coaching)\b.*"
                         r"\b(help\w*|work\w*|improv\w*|mov\w*|chang\w*|impact\w*|affect\w*|lift\w*|boost\w*|hurt\w*)\b")
BARE_QUARTER = re.compile(r"(?<![\d-])\b(q[1-4])\b(?!\s*-?'?\d{2,4})")
NEXT_PERIOD = re.compile(r"\bnext (\d+ |two |three |six |twelve )?(quarters?|months?|years?|weeks?|qtr|q|fy|fiscal year|half)\b")
BOOKED = re.compile(r"\bbook(s|ed|ings?)?\b")
FUTURE_WORDS = re.compile(r"\b(will|expect\w*|forecast\w*|outlook|next|going to|gonna|projected|likely)\b")
MONEY_ASKED = re.compile(r"\$|\bdollars?\b|\bhow much (?:money|revenue|value)\b")

# Asking to change alert rules or follows in words: never done from a sentence (a misread would change
# what a channel receives); asked back with the help that shows the exact command.
MANAGING = re.compile(r"^(please )?(alert|notify|warn|ping) (me|us)\b|\b(set|add|create|make) (up )?(an? |new )?(\S+ ){0,2}alerts?\b"
                      r"|^(please )?tell (me|us) (when|if|whenever)\b"
                      r"|^(please )?flag (any|every|each|all|me)\b"
                      r"|\blet (me|us) know (when|if)\b|\bsubscribe\b"
                      r"|^(every|each) (day|week|morning|\w+day),? (send|post|dm) (me|us|this channel|it|here)\b"
                      r"|\b(send|post|dm) (me|us|this channel|it |here)\b.*(\b(every|each) (day|week|morning|\w+day)\b"
                      r"|\bdaily\b|\bweekly\b(?! (summary|digest|report|update)))"
                      r"|\b(delete|remove|mute|snooze|unfollow|stop)\b.*\b(alert|follow)(s|ing)?\b|\bunfollow\b"
                      r"|\b(alert|follow) #?\d+\b|^(please )?(alert|notify|warn|ping) (if|when)\b"
                      r"|\b(alert|notify|warn|ping) (me|us) (when|if)\b"
                      r"|\b(send|post|dm|share|receive|get)\b(?!.*\b(summary|digest|recap)\b).*\b(daily|weekly|every (day|week|morning"
                      r"|evening|\w+day)|each (day|week|morning))\b"
                      r"|^(please )?(alert|follow|unfollow|subscribe|mute|snooze)\b(?![- ]up\b)|\balert (on|me|us|when|if)\b|^(please )?(alert|notify|warn|ping)( me)? (on|about) (any|every|each|all)\b")
LISTING = ((re.compile(r"^(list|show)( me)?( (all|my|the|our))? alert( rule)?s?\b"
                       r"|\b(what|which|any) alert( rule)?s? (are|do we have|is|have we|do i have|have i|i have|exist)\b"
                       r"|^(are there |do we have |have we )?(any )?alert( rule)?s? (set up|configured|active|running|on)$"),
            "/alerts list"),
           (re.compile(r"\b(misread|misunderstood|mis-read)( \w+)? questions\b|\bquestions\b.*\b(misread|misunderstood|mis-read)\b|\bquestions\b.*\b(getting|got|gets|get|answered|read)"
                       r" (wrong|wrongly|badly)\b|^(show|list)( me)?( the)? (latest |recent )?feedback\b"
                       r"|\bmisreads?\b|\bwhat (did|have|has) (people|users|folks|someone|anyone|the team|everyone) (flag\w*"
                       r"|thumbs?[- ]?down\w*|downvot\w*|mark\w* (as )?wrong|complain\w* about)"), "/feedback"),
           (re.compile(r"\bwhat ((questions?|reports?|answers?|analys[ie]s|updates?) )?(am i|are we|is this channel) (following|subscribed to)\b"
                       r"|\b(what|which) (are )?(my|our|this channel's) (subscriptions|follows|followed questions)\b"
                       r"|^(list|show)( me)?( (all|my|the|our))? (follows|subscriptions|followed questions)\b"), "/follow list"))
HELP_TOPICS = frozenset("winrate trend risk funnel why drivers reps deals pipeline health digest alerts follow "
                        "feedback".split())
# Help with one command: "help pipeline", "what does /risk do", "how does the drivers model work",
# "what's the syntax for the follow command", "how can I make an alert".
HELP_WITH = (re.compile(r"\bhelp (with |on )?(the )?/?(?P<name>\w+)( command)?$|\bhelp (with|on) (the )?/?(?P<name2>\w+)\b"),
             re.compile(r"\bwhat (does|is) (the )?/?(?P<name>\w+)( command| report| analysis| model)? (do|for)$"
                        r"|\b(explain|describe|tell me)( to me)? what (the )?/(?P<name3>\w+)( command)? (does|is for|means)\b"
                        r"|\bwhat does (the )?/?(?P<name2>\w+) command do\b"),
             re.compile(r"\bhow (does|do) (the )?/?(?P<name>\w+) (command|report|analysis|model|score|ranking|thing|feature|one)s? work\b"
                        r"|\bhow (does|do) (the )?/(?P<name2>\w+) (actually |really )?work\b"),
             re.compile(r"\b(syntax|usage|format) (for|of) (the )?/?(?P<name>\w+)( command)?\b"),
             re.compile(r"\bhow (does|do) (the )?/?(?P<name>alerts?|follows?|digest|feedback)( rules?)? work\b"),
             re.compile(r"\bhow (do i|can i|i can|to|should i) (use|set up|add|make|create|write) (an? |the )?/?(?P<name>\w+)\b"),
             # "how do I ask about trends", "what does /risk do exactly", "explain the pipeline command" (issue 22, twelfth set)
             re.compile(r"\bhow (do i|can i|do we|can we|should i|to) (ask|query) (you )?(about|for) (the )?/?(?P<name>\w+)$"
                        r"|\bwhat (does|is) (the )?/(?P<name2>\w+)( command)? (do|for)( exactly| again| precisely)?$"
                        r"|^(please )?(explain|describe)( to me)? (the )?(/(?P<name3>\w+)( command)?|(?P<name4>\w+) command)$"))


def command_of(question: str) -> str | None:
    """The command a plain question asks for, by the first matching rule; None when none matches."""
    matched = commands_matching(question)
    return matched[0] if matched else None


def commands_matching(question: str) -> list[str]:
    """Every command a rule matches the question to, in rule order (the first is the reading)."""
    q = question.casefold()
    found = ["winrate"] if WINRATE_BY.search(q) else []
    for command, pattern in RULES:
        if command not in found and re.search(pattern, q):
            found.append(command)
    return found


# The readings next to each one, offered as "another reading" when the question matched no other rule.
NEIGHBOURS = {"winrate": ("trend", "why"), "trend": ("why", "winrate"), "why": ("trend", "risk"),
              "drivers": ("why", "winrate"), "risk": ("why", "reps"), "reps": ("risk", "winrate"),
              "funnel": ("pipeline", "why"), "deals": ("why", "winrate"), "pipeline": ("deals", "risk")}


# Words that make "… here," part of the question ("anything odd here, in APAC"), not who is asking ("CFO here.")
ASKING_WORDS = frozenset("""what why how is are was were anything something any who which where when do does did it thing
things we our the""".split())


AGAINST_LAST_MONTH = re.compile(r"\b(?:vs\.?|versus|against|compared (?:to|with)|than) (?:the )?(?:previous|prior|last|preceding) "
                                r"(?:month|mo)\b")
OTHER_PERIOD = re.compile(r"\b(?:q[1-4]|h[12]|\d{4}|ytd|qtd|mtd|(?:this|last|past|previous|prior|current|next) (?:\d+ )?"
                          r"(?:year|yr|quarter|qtr|q|month|mo|week|wk|days?|weeks|months|quarters|years)|january|february|"
                          r"march|april|june|july|august|september|october|november|december|jan|feb|mar|apr|jun|jul|aug|"
                          r"sept?|oct|nov|dec|since|all time|ever)\b")


def _month_against_previous(text: str) -> str:
    """"did we improve vs the previous month" naming no other period: last month against the one before it, never
    the default quarter against its own previous (the month would be dropped)."""
    match = AGAINST_LAST_MONTH.search(text)
    if match is None or OTHER_PERIOD.search(text[:match.start()] + " " + text[match.end():]):
        return text
    return f"{text[:match.start()]}last month vs previous{text[match.end():]}"


QUARTER_END_MONTH = re.compile(r"\b(?:by|before|until|till|through) (?:the )?end of (?P<m>[a-z]{3,9})\b")


def _ends_this_quarter(name: str, as_of: dt.date) -> bool:
    """Whether a month's name ("sept", "september") is the last month of the quarter as_of is in: "by end of sept"
    in July is this quarter, the forecast's own horizon."""
    month = next((i for full, i in MONTHS.items() if full.startswith(name)), None)
    return month is not None and month == ((as_of.month - 1) // 3) * 3 + 3


def rewrite(question: str, as_of: dt.date) -> str:
    """The question in the grammar's words: punctuation and emoji off, contractions and sales phrasings
    spelt out, keyword typos corrected, bare quarters and months given their year."""
    text = re.sub(r"\bus\b", " ", question)  # "what makes us win": a pronoun; "US" (upper case) is a region
    text = text.casefold().replace("’", "'").replace("‘", "'")
    text = _formats(text, as_of)  # numbers in words, dictation slips and other date formats, in the grammar's forms
    text = re.sub(r"\blst ?(q|qtr|quarter)\b", "last quarter", text)  # "deals lost lst q": a typo of last quarter
    # "year to date" is one period before "compare … to …" reads its "to"; "the quarter passed" is the last one;
    # "rep number 21" is rep 21
    text = re.sub(r"\b(year|quarter|month) to date\b", lambda m: {"year": "ytd", "quarter": "qtd", "month": "mtd"}[m.group(1)],
                  text)
    text = re.sub(r"\bthe (quarter|month|year) (?:that |which )?(?:just )?(?:passed|has passed|gone by|just gone|that went)\b",
                  r"last \1", text)
    text = re.sub(r"\b(reps?|sellers?|salespersons?) (?:number|no\.?|nr\.?|num|#) ?(\d+)\b", r"\1 \2", text)
    # "the comparison of this year with last year", "a comparison between APAC and Europe": one against the other
    text = re.sub(r"\b(?:(?:do|make|run|give me|show me) )?(?:the |a )?comparison (?:of|between) (.+?) (?:with|to|and|against|vs) (.+)",
                  r"\1 vs \2", text)
    text = re.sub(r"<[@!#][^>]*>", " ", text)  # a mention of the bot, a person, a channel or <!channel>
    # who is asking ("manager here —", "CFO here."): context, not a segment or a subject (three words may name one:
    # "new VP Europe here", so they stay)
    text = re.sub(r"^(?:hi,? |hey,? )?((?:[a-z/&]+ ){1,2})(?:here|speaking)\s*[-—–,:.]+\s*", lambda m: m.group(0) if set(
        m.group(1).split()) & ASKING_WORDS else "", text)
    # "went from like 40 to 30": percentages said, not periods
    text = re.sub(r"\bfrom (?:like |about |around |roughly |~)?\d{1,2}(?:\.\d)?%? to (?:like |about |around |roughly |~)?\d{1,2}"
                  r"(?:\.\d)?%?(?![\d.]| ?(?:days?|d|k|weeks?)\b)", " ", text)
    # a cycle band in brackets ("fast deals (under 30 days)", "(90+ days)"): the cycle's length, not a period
    text = re.sub(r"\(\s*(?:under|less than|below|fewer than|shorter than|<)\s*(\d+)\s*(?:days|d)\s*\)", r" cycle under \1 days ", text)
    text = re.sub(r"\(\s*(?:over|more than|longer than|above|>)\s*(\d+)\s*(?:days|d)\s*\)", r" cycle over \1 days ", text)
    text = re.sub(r"\(\s*(\d+)\s*\+\s*(?:days|d)\s*\)", r" cycle over \1 days ", text)
    text = re.sub(r"\b(deals?|opps?|opportunities|ones) (?:under|less than|below|shorter than) (\d+) days\b(?! old)",
                  r"\1 cycle under \2 days", text)
    text = re.sub(r"\b(?:fast|quick|short|slow|long|lengthy)\s+(?=((deals?|opps?|opportunities|ones)\s+)?cycle (under|over) \d+ days)",
                  "", text)  # the band says how fast
    # "a 90+ day cycle", "cycles of 120+ days": the cycle's length, a band
    text = re.sub(r"\b(?:an? )?(\d+)\s*\+\s*-?\s*days?(?: sales)? cycles?\b", r" cycle over \1 days ", text)
    text = re.sub(r"\b((?:sales )?cycles?) (?:of|at|over) (\d+)\s*\+\s*(?:days|d)\b", r"\1 over \2 days", text)
    text = re.sub(r"\s*(?:→|->|=>|⟶|➡️?)\s*", " to ", text)  # "proposal → negotiation": from one to the other
    text = re.sub(r"[^\w\s'%$+<>.,?!;:=/&-]", " ", text)  # emoji and symbols
    text = re.sub(r"(?<=[a-z])\+(?=[a-z])", " + ", text)  # "edtech+healthtech": the two pooled, as "edtech + healthtech"
    text = _month_against_previous(text)
    for pattern, words in SPELLINGS:
        text = re.sub(pattern, words, text)
    text = QUARTER_END_MONTH.sub(lambda m: " this quarter" if _ends_this_quarter(m.group("m"), as_of) else m.group(0), text)
    text = re.sub(r"(?<![\d.])[?!;:](?!\d)|(?<!\d)[.,](?!\d)|[?!]+$", " ", text)
    text = re.sub(r"(?<=\d)[?!.,]+(?=\s|$)", " ", text)  # "in 2024Q1?": the period keeps its digits
    text = DAY_RANGE.sub(lambda m: _day_range(m, as_of) or m.group(0), text)  # "from feb 1 to april 30": those days
    text = " ".join(_corrected(w) for w in text.split())
    text = re.sub(r"\bcompare (the )?(last|past) (\w+) (quarter|month)s\b", r"last \3 \4s \4ly", text)  # quarter by quarter
    text = re.sub(r"\b(and )?(how (it|that|this|they|we) )?(compare[sd]?|stacks? up|measures? up) (to|with|against) ", " vs ", text)
    text = re.sub(r"\bcompare (.+?) (with|to|and) (.+)", r"\1 vs \3", text)
    text = re.sub(r"\bfrom ([a-z]+) to ([a-z]+)\b",  # "from demo to proposal": stages, not dates
                  lambda m: m.group(0) if {m.group(1), m.group(2)} & set(MONTHS) else f"{m.group(1)} to {m.group(2)}"
                  if {m.group(1), m.group(2)} <= STAGE_WORDS else f"{m.group(1)} {m.group(2)}", text)
    text = re.sub(r"\bhow (does|do|did) (.+?) compare (to|with) (.+)", r"\2 vs \4", text)
    text = re.sub(r"\bcompare\b", "", text) if " vs " not in text else re.sub(r"\bcompare (?=.+ vs )", "", text)
    text = re.sub(r"\b(is|are) (.+?) (doing |performing |converting )?(better|worse|weaker|stronger) than (.+)", r"\2 vs \5", text)
    text = re.sub(r"\b(does|do) (.+?) (beat|outperform|outsell) (.+)", r"\2 vs \4", text)
    text = re.sub(r"\b(do|does|did) (.+?) (convert|close|win|perform|do)\w* (better|worse|more|less)( often)? than (.+)",
                  r"\2 vs \6", text)
    # a half or quarter "this year" is this year's, before "this year" alone becomes the year to date
    text = re.sub(r"\b(h[12]) (of )?this year\b", lambda m: _half(m.group(1), str(as_of.year), as_of), text)
    text = re.sub(r"\bq([1-4]) (of )?this year\b", lambda m: f"{as_of.year}q{m.group(1)}", text)
    text = re.sub(r"\b(first|second|third|fourth|1st|2nd|3rd|4th) quarter (of )?this year\b", lambda m: f"{as_of.year}q"
                  f"{'first second third fourth'.split().index(m.group(1)) + 1 if m.group(1).isalpha() else m.group(1)[0]}", text)
    text = re.sub(r"\b(each|every|by) month\b", "monthly", text)
    text = _bands_in_words(_amounts_in_words(text))
    for pattern, words in PHRASES:
        text = re.sub(pattern, words, text)
    text = re.sub(r"\bq([1-4]) (?:of )?(\d{4})\b", r"\2q\1", text)  # "the 2nd quarter of 2023"
    # "since March": from the first of the latest March to the data's last day
    # "after March": from the month after it (a month named after "before", "through" or "until" is kept, to be named back)
    text = re.sub(r"\b(?:after|from the end of) ([a-z]+)(?:\s+(\d{4}))?\b", lambda m: _since(m.group(1), m.group(2), as_of, 1)
                  or m.group(0), text)
    text = re.sub(r"\bsince ([a-z]+)(?:\s+(\d{4}))?\b", lambda m: _since(m.group(1), m.group(2), as_of) or m.group(0),
                  text)
    # a month named just before "vs" ("June vs May") is the period in question
    text = re.sub(r"\b([a-z]+)(?=\s+vs )", lambda m: _month(m.group(1), None, as_of) or m.group(1), text)
    text = re.sub(r"\b(h[12]) (of )?last year\b", lambda m: _half(m.group(1), None, as_of, years_back=1), text)
    text = re.sub(r"\b(this|current|last|previous|prior) half\b(?! (of|year))", lambda m: _this_half(m.group(1), as_of), text)
    text = re.sub(r"\b(h[12])\b(?:\s+(?:of\s+)?(\d{4}))?", lambda m: _half(m.group(1), m.group(2), as_of), text)
    text = re.sub(r"\bsince (\d{4}-\d\d-\d\d)\.\.\d{4}-\d\d-\d\d\b", lambda m: f"{m.group(1)}..{as_of.isoformat()}"
                  if m.group(1) <= as_of.isoformat() else m.group(0), text)  # "since H2 2023"
    text = re.sub(r"\bq([1-4]) (of )?last year\b", lambda m: _quarter(int(m.group(1)), as_of, years_back=1), text)
    # "did it improve from Q1 to Q2": a change from one period to the other, Q2 against Q1 (not a range)
    if CHANGE_WORDS.search(text):
        text = re.sub(rf"\bfrom (q[1-4]|{PERIOD_TOKEN}) (?:to|until|through) (q[1-4]|{PERIOD_TOKEN})(?!\S)", r"\2 vs \1", text)
    text = re.sub(r"(?<![\d-])\bq([1-4]) vs q([1-4])\b(?!\s*-?\d{4})", lambda m: _quarter_pair(
        int(m.group(1)), int(m.group(2)), as_of) or m.group(0), text)  # "compare Q4 to Q3": a pair, in order
    text = re.sub(r"(?<![\d-])\bq([1-4])\b(?!\s*-?\d{4})", lambda m: _quarter(int(m.group(1)), as_of), text)
    # "since 2023Q3", "since 2023", "since H2 2023": from that period's first day to the data's last (never that period alone)
    text = re.sub(r"\bsince (\d{4})q([1-4])\b", lambda m: f"{m.group(1)}-{3 * int(m.group(2)) - 2:02d}-01..{as_of.isoformat()}", text)
    text = re.sub(r"\bsince (\d{4})-(\d\d)(?![-\d])", lambda m: f"{m.group(1)}-{m.group(2)}-01..{as_of.isoformat()}", text)
    text = re.sub(r"\bsince (\d{4})(?![-\d.q])\b", lambda m: f"{m.group(1)}-01-01..{as_of.isoformat()}"
                  if int(m.group(1)) <= as_of.year else m.group(0), text)
    text = re.sub(r"\bbetween ([a-z]+) and ([a-z]+)(?: (\d{4}))?\b",  # "between march and may": the months from one to the other
                  lambda m: _months(m.group(1), m.group(2), m.group(3), as_of) or m.group(0), text)
    # a month alone after the measure ("win rate jan", "bookings march"): that month
    text = re.sub(r"\b(win ?rates?|winrate|close rates?|conversion|bookings|wins|losses) ([a-z]+)$",
                  lambda m: f"{m.group(1)} {_month(m.group(2), None, as_of) or m.group(2)}", text)
    text = re.sub(r"\b(?:from )?([a-z]+)(?: ?- ?| to | through | thru | until )([a-z]+)(?: (\d{4}))?\b",
                  lambda m: _months(m.group(1), m.group(2), m.group(3), as_of) or m.group(0), text)  # "jan-mar", "from jan to march"
    text = re.sub(r"\b([a-z]+)\s+(\d{4})\b", lambda m: _month(m.group(1), m.group(2), as_of) or m.group(0), text)
    text = re.sub(r"\bthe month of ([a-z]+)(?:\s+(\d{4}))?\b", lambda m: _month(m.group(1), m.group(2), as_of) or m.group(0), text)
    text = re.sub(r"\b([a-z]+) (so far|to date|mtd)\b", lambda m: _month(m.group(1), None, as_of) or m.group(0), text)
    text = re.sub(r"\ball (noise|luck|chance|random\w*|a fluke)\b", r"\1", text)
    # "deals whose last stage was negotiation": the deals in that stage (a stage field), not the funnel's steps
    text = re.sub(r"\b(?:whose|where the|with an?|with the|that had an?) (?:last|final|latest|current) stage (?:was |is |of )?"
                  r"(qualified|demo|proposal|negotiation)\b", r"in \1", text)  # "is it all noise": no period named
    text = re.sub(r"\b(?:in |for |during )?(\d{4}) (?:so far|to date|ytd)\b",  # "in 2024 so far": this year to date
                  lambda m: "ytd" if int(m.group(1)) == as_of.year else m.group(0), text)
    text = re.sub(rf"\bbetween ({PERIOD_TOKEN}) and ({PERIOD_TOKEN})(?!\S)", r"\2 vs \1", text)
    # a month as a possessive ("march's win rate"), the subject ("why did march go so badly", "how was april") or
    # naming the deals or numbers ("march deals"): that month ("may" only as a possessive: else the verb)
    text = re.sub(r"\b([a-z]+)'s\b", lambda m: _month(m.group(1), None, as_of) or m.group(0), text)
    text = re.sub(r"\b(did|was|were|has|had|is) ([a-z]+)\b(?! \d)", lambda m: f"{m.group(1)} "
                  f"{(_month(m.group(2), None, as_of) if m.group(2) != 'may' else None) or m.group(2)}", text)
    text = re.sub(r"(?<!\bmay )\b([a-z]+)\b(?= (win ?rates?|close rates?|deals|numbers|results|bookings|performance|wins|losses)\b)",
                  lambda m: (_month(m.group(1), None, as_of) if m.group(1) != "may" else None) or m.group(1), text)
    # "ytd vs ytd last year", "this quarter vs the same quarter last year": the same span a year before
    text = re.sub(r"\bvs (?:the )?(?:same )?(?:ytd|year to date|period|span|time|stretch|quarter|month)(?: of| in)? last year(?:'s)?\b",
                  "vs last year", text)
    # "against the same quarter of 2023" (a year before the period in question): a year earlier
    text = re.sub(r"\bvs (?:the )?same (?:ytd|period|span|time|stretch|quarter|month|days|weeks)(?: of| in) (\d{4})\b",
                  lambda m: "vs last year" if int(m.group(1)) == as_of.year - 1 else m.group(0), text)
    text = re.sub(r"\b(in|for|during|vs|since|from|than|to|and) ([a-z]+)\b(?!\s+\d)", lambda m: f"{m.group(1)} "
                  f"{_month(m.group(2), None, as_of, m.group(1) in ('and', 'to')) or m.group(2)}", text)
    return re.sub(r"\s+", " ", text).strip()


# Numbers said in words ("rep twenty-two", "last ninety days", "twenty twenty four") and dictation's homophones
# ("the last too quarters", "quarter too", "queue two", "rep for"), as digits.
NUMBER_UNITS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten eleven twelve thirteen fourteen "
                                           "fifteen sixteen seventeen eighteen nineteen".split(), 1)}
NUMBER_TENS = {w: 10 * n for n, w in enumerate("twenty thirty forty fifty sixty seventy eighty ninety".split(), 2)}
NUMBER_WORD = (r"(?:(?:" + "|".join(NUMBER_TENS) + r")(?:[ -](?:" + "|".join(w for w in NUMBER_UNITS if NUMBER_UNITS[w] < 10)
               + r"))?|" + "|".join(sorted(NUMBER_UNITS, key=len, reverse=True)) + r")")
SAID_TWO = r"(?:two|too)"  # "to" is left: "the last to quarters" is rarer than "deals close to 50k"
MONTH_NAME = r"(?:jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*"


def _said_number(words: str) -> int:
    """"twenty-two" as 22, "too" (a dictated "two") as 2."""
    parts = re.split(r"[ -]", words.replace("too", "two"))
    return sum(NUMBER_TENS.get(w) or NUMBER_UNITS[w] for w in parts)


def _month_number(name: str) -> int | None:
    return MONTHS.get(name) or MONTHS.get(name[:3]) if name[:3] in MONTHS and (name in MONTHS or name == "sept") else None


def _formats(text: str, as_of: dt.date) -> str:
    """Periods and numbers written in other forms, in the grammar's own: "twenty twenty four" as 2024, "rep number
    four" as rep 4, "last ninety days" as last 90 days, "03/2024" and "2024/05" as 2024-03 and 2024-05, "dec-23" and
    "march '24" as that month, "1q24" and "q1-24" as 2024q1, "2h23" as h2 2023, "the quarter ended 31 march 2024" as
    that quarter, "the quarter before last" as the one before last quarter. A day written 03/04/2024 (day or month
    first?) is left as typed, to be asked back, never guessed."""
    text = re.sub(r"\b(" + MONTH_NAME + r"|\d{1,4})\s*[–—]\s*(" + MONTH_NAME + r"|\d{1,4})\b(?! (?:i|we|you|they|he|she|it)\b)",
                  lambda m: f"{m.group(1)}-{m.group(2)}" if m.group(1).isdigit() == m.group(2).isdigit() else m.group(0),
                  text)  # "mar–may", "jan—mar", "2023–2024": a range, as "mar-may" (two months or two numbers only)
    text = re.sub(r"\b(?:twenty|two thousand(?: and)?) (?:twenty[ -](one|two|three|four|five|six|seven|eight|nine)|twenty)\b",
                  lambda m: str(2020 + (NUMBER_UNITS[m.group(1)] if m.group(1) else 0)), text)
    text = re.sub(r"\b(?<!by )(?<!per )(?<!each )(?<!every )(reps?|sellers?) ((?:number|no\.?|#) ?)?(" + NUMBER_WORD + r"|for$)\b",
                  lambda m: f"{m.group(1)} {4 if m.group(3) == 'for' else _said_number(m.group(3))}", text)
    text = re.sub(r"\b(last|past|previous|prior|next) (" + NUMBER_WORD + "|" + SAID_TWO + r") (days?|weeks?|months?|quarters?|years?)\b",
                  lambda m: f"{m.group(1)} {_said_number(m.group(2))} {m.group(3)}", text)
    text = re.sub(r"\b(" + NUMBER_WORD + r") (days|weeks|months)\b(?! (?:before|earlier|prior|back|ago))", lambda m: f"{_said_number(m.group(1))} {m.group(2)}", text)
    text = re.sub(r"\b(?:quarter|queue|cue) (one|" + SAID_TWO + r"|three|four|[1-4])\b",
                  lambda m: f"q{m.group(1) if m.group(1).isdigit() else _said_number(m.group(1))}", text)
    # "the deals we one in june": a dictated "won" (only after a subject and before a period's word)
    text = re.sub(r"\b(we|they|you|he|she|i) one (?=(?:in|last|this|during|over|since|for)\b)", r"\1 won ", text)
    # "between fifty and a hundred k": both ends in thousands
    text = re.sub(r"\b(between|from) (" + NUMBER_WORD + r"|\d+) (and|to) (a hundred|one hundred|" + NUMBER_WORD + r"|\d+) ?k\b",
                  lambda m: f"{m.group(1)} {m.group(2) if m.group(2).isdigit() else _said_number(m.group(2))}k {m.group(3)} "
                  f"{100 if 'hundred' in m.group(4) else m.group(4) if m.group(4).isdigit() else _said_number(m.group(4))}k", text)
    # "10k to 25k deals", "60 to 90 days": a range of sizes or days, written as the bands' "10k-25k", "60-90 days" (one
    # that is no band's is left to be named back); "quarter-to-date" as "quarter to date"
    text = re.sub(r"(?<![\w$-])(?<!between )(?<!from )(\$?\d+k) to (\$?\d+k)\b", r"\1-\2", text)
    text = re.sub(r"(?<![\w-])(?<!between )(?<!from )(\d+) to (\d+) days\b", r"\1-\2 days", text)
    text = re.sub(r"\b(year|quarter|month)-to-date\b", r"\1 to date", text)
    # month and year in figures: "03/2024", "2024/05" (a day's date, "03/04/2024", stays)
    text = re.sub(r"(?<![\d/.-])(0?[1-9]|1[0-2])/(20\d\d)(?![\d/])", lambda m: f"{m.group(2)}-{int(m.group(1)):02d}", text)
    text = re.sub(r"(?<![\d/.-])(20\d\d)/(0?[1-9]|1[0-2])(?![\d/])", lambda m: f"{m.group(1)}-{int(m.group(2)):02d}", text)
    # a day whose day or month is over 12 can be read one way only: "13/04/2024", "04/13/2024"
    text = re.sub(r"(?<![\d/.-])(\d\d?)([/.])(\d\d?)\2(20\d\d)(?![\d/.-])", _one_way_day, text)
    # "dec-23", "march '24", "sept 2023", "dec 23" is a day: only a hyphen or an apostrophe makes two digits a year
    text = re.sub(r"\b(" + MONTH_NAME + r")\.?(?:-|\s*'|\s+)(\d\d|20\d\d)\b(?!\s*(?:st|nd|rd|th)\b)",
                  lambda m: (f"{m.group(1) if m.group(1) != 'sept' else 'september'} "
                             f"{m.group(2) if len(m.group(2)) == 4 else '20' + m.group(2)}")
                  if _month_number(m.group(1)) and (len(m.group(2)) == 4 or not re.match(r"\s+\d", m.group(0)[len(m.group(1)):]))
                  else m.group(0), text)
    text = re.sub(r"\bsept\b", "september", text)
    # "1q24", "q1-24", "q1 '24", "q1 fy24" is left (a fiscal year may not be the calendar's)
    text = re.sub(r"\b([1-4])q(\d\d)\b", r"20\2q\1", text)
    text = re.sub(r"\bq([1-4])(?:-|\s*')(\d\d)\b", r"20\2q\1", text)
    text = re.sub(r"\b([12])h(\d\d)\b", r"h\1 20\2", text)
    text = re.sub(r"\bh([12])(?:-|\s*')(\d\d)\b", r"h\1 20\2", text)
    # "the quarter ended 31 march 2024", "the quarter ending june 2024": that quarter (only at a quarter's end)
    text = re.sub(r"\b(?:the )?quarter (?:that )?(?:ended|ending|to) (?:(?:on )?(\d{1,2})(?:st|nd|rd|th)? (?:of )?)?(" + MONTH_NAME
                  + r"),? (?:(\d{1,2})(?:st|nd|rd|th)?,? )?(20\d\d)\b", _quarter_ended, text)
    # "the quarter before last": the one before last quarter
    text = re.sub(r"\b(?:the )?quarter before last(?: quarter)?\b", lambda m: _quarters_back(as_of, 2), text)
    # "the 12 months to june 2024": the twelve whole months ending with that one
    text = re.sub(r"\b(?:the )?(\d{1,2}|twelve) months (?:to|ending|ended|through|until) (?:the end of )?(" + MONTH_NAME
                  + r") (20\d\d)\b", _months_to, text)
    # "first half of 2023 against the second half": the second half of the same year
    text = re.sub(r"\b(first|second|h1|h2) half (?:of )?(20\d\d) (vs|versus|against|compared to|compared with|to) (?:the )?"
                  r"(first|second|h1|h2)(?: half)?\b(?! (?:of |20\d\d))",
                  lambda m: f"{m.group(1)} half of {m.group(2)} {m.group(3)} {m.group(4)} half of {m.group(2)}", text)
    return text


def _one_way_day(m: re.Match) -> str:
    a, b, year = int(m.group(1)), int(m.group(3)), int(m.group(4))
    if (a <= 12) == (b <= 12):
        return m.group(0)  # either way round (asked back), or neither (left as typed)
    try:
        return (dt.date(year, b, a) if a > 12 else dt.date(year, a, b)).isoformat()
    except ValueError:
        return m.group(0)


def _quarter_ended(m: re.Match) -> str:
    month, day = _month_number(m.group(2)), m.group(1) or m.group(3)
    if not month or month % 3:
        return m.group(0)
    last = (dt.date(int(m.group(4)) + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)).day
    return f"{m.group(4)}q{month // 3}" if day is None or int(day) == last else m.group(0)


def _quarters_back(as_of: dt.date, back: int) -> str:
    index = as_of.year * 4 + (as_of.month - 1) // 3 - back
    return f"{index // 4}q{index % 4 + 1}"


def _months_to(m: re.Match) -> str:
    count, month = 12 if m.group(1) == "twelve" else int(m.group(1)), _month_number(m.group(2))
    if not month or not 1 <= count <= 24:
        return m.group(0)
    end = dt.date(int(m.group(3)) + (month == 12), month % 12 + 1, 1) - dt.timedelta(days=1)
    start = add_months(dt.date(int(m.group(3)), month, 1), 1 - count)
    return f"{start.isoformat()}..{end.isoformat()}"


# "deals 50k and up", "over 50k": every size band from that edge up; "cycle runs past 90 days", "closed in
# under 30 days": the cycle bands beyond or within that many days. Only at a band's edge: "over 250k" stays.
SIZE_EDGES = {0: "<10k", **{int(upper): SIZE_BANDS[i + 1][1] for i, (upper, _) in enumerate(SIZE_BANDS[:-1])}}
CYCLE_EDGES = {0: "<30d", **{int(upper): CYCLE_BANDS[i + 1][1] for i, (upper, _) in enumerate(CYCLE_BANDS[:-1])}}
SIZE_UP = re.compile(r"\b(?:over|above|more than|bigger than|larger than|at least) \$?(\d+)k\b"
                     r"|\$?\b(\d+)k(?: and (?:up|above|over|bigger|larger)|\+| or (?:more|bigger|larger|above))(?!\w)")
SIZE_BETWEEN = re.compile(r"\b(?:between|from) \$?(\d+)k? (?:and|to) \$?(\d+)k\b")
AMOUNT = re.compile(r"\$?\d[\d,.]*[km]|\$\d[\d,.]*|\$?\d+k?-\$?\d+k")
CYCLE_WORDS = r"(?:cycles?|runs?|ran|running|lasts?|lasted|lasting|drag(?:s|ged)?|took|takes?|taking|closed)"
CYCLE_NOUN = r"(?:(?:the )?(?:sales )?cycle (?:is |was )?)?"
CYCLE_UP = re.compile(CYCLE_NOUN + CYCLE_WORDS + r" (?:for |in )?(?:(?:past|over|beyond|more than|longer than|above) (\d+)\+?"
                      r"|(\d+)\+) days\b")
CYCLE_DOWN = re.compile(CYCLE_NOUN + CYCLE_WORDS + r" (?:in )?(?:under|less than|fewer than|below) (\d+) days\b")


CYCLE_NAMES = "|".join(re.escape(name) for _, name in CYCLE_BANDS)
CYCLE_AGAINST = re.compile(r"(?P<first>(?<![\w=,])(?:" + CYCLE_NAMES + r")|\bcycle_band=\S+)(?P<mid> (?:vs|versus|against"
                           r"|compared to|compared with) (?:(?:the )?(?:deals?|ones|opps) (?:that |which )?)?)(?P<bound>(?:(?P<up>over"
                           r"|more than|longer than|above|beyond)|under|less than|fewer than|below|shorter than) (?P<n>\d+) days)\b")
SIZE_DOWN = re.compile(r"(?<![\w-])(?:under|below|less than|smaller than|sub-?|<) ?\$?(\d+)k\b(?! (?:and|or) (?:up|above|over|more))"
                       r"|\$?\b(\d+)k (?:and|or) (?:under|below|less|smaller|lower)\b")
# "took longer than 6 months", "closed in under 2 weeks": the cycle's bound in days (a band's edge, or named back)
CYCLE_UNITS = re.compile(r"\b((?:" + CYCLE_WORDS[3:-1] + r") (?:for |in )?(?:past|over|beyond|more than|longer than|above|under|less than"
                         r"|fewer than|below|within) )(\d+|an?|one|two|three|four|six|twelve) (weeks?|months?)\b")


def _days(count: str, unit: str) -> int:
    n = {"a": 1, "an": 1, "one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "twelve": 12}.get(count) or int(count)
    return n * (7 if unit.startswith("week") else 30)


# "ten thousand dollars", "50 thousand", "$10,000", "100k-plus": amounts in words, written as the bands' "10k" so the
# band rules below read them (an amount they cannot map to a band's edge stays, and is asked back, never dropped)
AMOUNT_WORDS = {w: n for n, w in enumerate("one two three four five six seven eight nine ten".split(), 1)} | {
    "twenty": 20, "twenty-five": 25, "twenty five": 25, "fifty": 50, "a hundred": 100, "one hundred": 100, "hundred": 100,
    "two hundred": 200, "two hundred and fifty": 250, "two hundred fifty": 250, "five hundred": 500}
AMOUNT_IN_WORDS = re.compile(r"\$?\b(?P<n>\d+|" + "|".join(sorted(map(re.escape, AMOUNT_WORDS), key=len, reverse=True))
                             + r")[ -]?(?:thousand|grand)(?: dollars?| usd| bucks)?\b")
AMOUNT_DIGITS = re.compile(r"\$?\b(\d{1,3}),?000(?:\.00)?(?![\d,])(?: dollars?| usd)?|\b(\d+)k (?:dollars?|usd)\b")
AMOUNT_PLUS = re.compile(r"\b(\d+k)(?:-| )plus\b")


def _amounts_in_words(text: str) -> str:
    text = AMOUNT_IN_WORDS.sub(lambda m: f"{AMOUNT_WORDS.get(m.group('n')) or int(m.group('n'))}k", text)
    text = AMOUNT_DIGITS.sub(lambda m: f"{int(m.group(1) or m.group(2))}k", text)
    return AMOUNT_PLUS.sub(r"\1+", text)


def _bands_in_words(text: str) -> str:
    def up(edges: dict[int, str], threshold: int, bands, unit: int, original: str) -> str:
        names = [name for _, name in bands]
        if threshold * unit not in edges:
            return original
        start = names.index(edges[threshold * unit])
        dim = "size_band" if bands is SIZE_BANDS else "cycle_band"
        return f"{dim}={','.join(names[start:])}" if len(names) - start > 1 else names[start]

    def down(threshold: int, original: str) -> str:
        uppers = [int(u) for u, _ in CYCLE_BANDS[:-1]]
        if threshold not in uppers:
            return original
        names = [name for u, name in CYCLE_BANDS if u <= threshold]
        return f"cycle_band={','.join(names)}" if len(names) > 1 else names[0]

    def between(low: int, high: int, original: str) -> str:  # "between 25k and 100k": the bands that span it
        edges = [0] + [int(u) for u, _ in SIZE_BANDS[:-1]]
        if low * 1000 not in edges or high * 1000 not in edges[1:] or high <= low:
            return original
        names = [name for (upper, name), lower in zip(SIZE_BANDS, edges) if lower >= low * 1000 and upper <= high * 1000]
        return f"size_band={','.join(names)}" if len(names) > 1 else names[0]

    def below(threshold: int, original: str) -> str:  # "sub-25k", "under 50k": the bands under that edge, pooled
        names = [name for upper, name in SIZE_BANDS if upper <= threshold * 1000]
        if threshold * 1000 not in [int(u) for u, _ in SIZE_BANDS[:-1]]:
            return original
        return f"size_band={','.join(names)}" if len(names) > 1 else names[0]

    text = SIZE_DOWN.sub(lambda m: below(int(m.group(1) or m.group(2)), m.group(0)), text)
    text = CYCLE_UNITS.sub(lambda m: f"{m.group(1)}{_days(m.group(2), m.group(3))} days", text)
    text = SIZE_BETWEEN.sub(lambda m: between(int(m.group(1)), int(m.group(2)), m.group(0)), text)
    text = SIZE_UP.sub(lambda m: up(SIZE_EDGES, int(m.group(1) or m.group(2)), SIZE_BANDS, 1000, m.group(0)), text)
    text = CYCLE_UP.sub(lambda m: up(CYCLE_EDGES, int(m.group(1) or m.group(2)), CYCLE_BANDS, 1, m.group(0)), text)
    text = CYCLE_DOWN.sub(lambda m: down(int(m.group(1)), m.group(0)), text)
    # "under 30 days vs over 90 days": the second bound is the cycle's too, with no verb of its own
    return CYCLE_AGAINST.sub(lambda m: m.group("first") + m.group("mid") + (
        up(CYCLE_EDGES, int(m.group("n")), CYCLE_BANDS, 1, m.group("bound")) if m.group("up")
        else down(int(m.group("n")), m.group("bound"))), text)


def _corrected(word: str) -> str:
    """A word of 4+ letters the rules do not know, replaced by the keyword it is a typo of, if any."""
    if len(word) < 3 or not word.isalpha() or word in SENTENCE_WORDS or word in KEYWORDS or word in SEGMENT_LIKE \
            or word in KNOWN_WORDS:
        return word
    # a typo keeps its first letter ("pipline", "forcast"); "average" is not a typo of "coverage"
    collapsed = re.sub(r"(.)\1+", r"\1", word)  # "whyy", "sooo"
    if collapsed != word and collapsed in KEYWORDS:  # ("off" is not "of")
        return collapsed
    same_start = [k for k in KEYWORDS if k[0] == word[0] and not word.startswith(k)]  # "healthy" is no typo
    swapped = [k for k in same_start if _one_swap(k, word) or _one_dropped(k, word)]  # "rsik", "trnd", "doin"
    # a four-letter word is an English word far more often than a typo ("long" is not "lost"): swaps only
    close = swapped or (difflib.get_close_matches(word, [k for k in same_start if -1 <= len(k) - len(word) <= 2], n=1, cutoff=0.8)
                        if len(word) > 4 else [])  # letters left out ("decling"); "healtech" is no slip of "health"
    return close[0] if close else word


def _one_swap(a: str, b: str) -> bool:
    """Whether b is a with two neighbouring letters swapped."""
    if len(a) != len(b):
        return False
    differ = [i for i, (x, y) in enumerate(zip(a, b)) if x != y]
    return len(differ) == 2 and differ[1] == differ[0] + 1 and a[differ[0]] == b[differ[1]] and a[differ[1]] == b[differ[0]]


def _one_dropped(a: str, b: str) -> bool:
    """Whether b is a with one letter left out ("trnd" for "trend", "doin" for "doing")."""
    return len(a) == len(b) + 1 and any(a[:i] + a[i + 1:] == b for i in range(1, len(a)))


def _month(name: str, year: str | None, as_of: dt.date, verb_may_follow: bool = False) -> str | None:
    """"march 2024" as 2024-03; "march" alone as the latest March that has started. "may" after "and" or
    "to" is the verb ("and may slip")."""
    month = MONTHS.get(name)
    if month is None or (name == "may" and year is None and verb_may_follow):
        return None
    y = int(year) if year else (as_of.year if month <= as_of.month else as_of.year - 1)
    return f"{y}-{month:02d}"


ORDINAL = r"(?:st|nd|rd|th)?"
DAY = (r"(?:(?P<{m}>[a-z]+)\.? (?P<{d}>\d{{1,2}})" + ORDINAL + r"|(?P<{d}x>\d{{1,2}})" + ORDINAL + r" (?:of )?(?P<{m}x>[a-z]+))"
       r"(?:,? (?P<{y}>\d{{4}}))?")
DAY_RANGE = re.compile(r"\b(?:from |between )?" + DAY.format(m="m1", d="d1", y="y1") + r" ?(?:to|-|through|thru|until|till|and) ?"
                       + DAY.format(m="m2", d="d2", y="y2") + r"\b")


def _day_range(m: re.Match, as_of: dt.date) -> str | None:
    """"from feb 1 to april 30", "1 March - 15 June 2024": those days, in the latest year the range has started
    (a year named with either end is that end's)."""
    first, last = m.group("m1") or m.group("m1x"), m.group("m2") or m.group("m2x")
    if first not in MONTHS or last not in MONTHS:
        return None
    d1, d2 = int(m.group("d1") or m.group("d1x")), int(m.group("d2") or m.group("d2x"))
    y1, y2 = m.group("y1"), m.group("y2")
    try:
        if y1 or y2:
            start_year = int(y1) if y1 else int(y2) - (MONTHS[first] > MONTHS[last])
        else:
            start_year = as_of.year if dt.date(as_of.year, MONTHS[first], d1) <= as_of else as_of.year - 1
        start = dt.date(start_year, MONTHS[first], d1)
        end = dt.date(int(y2) if y2 else start_year, MONTHS[last], d2)
        if end < start and not y2:
            end = dt.date(start_year + 1, MONTHS[last], d2)
    except ValueError:  # "feb 30": no such day; left as typed, to be named back
        return None
    return f"{start.isoformat()}..{end.isoformat()}" if end >= start else None


def _months(first: str, last: str, year: str | None, as_of: dt.date) -> str | None:
    """"jan-mar", "from January to March 2024": the months' range, in the latest year it has started."""
    if first not in MONTHS or last not in MONTHS:
        return None
    start = _month(first, year, as_of)
    y, m = int(start[:4]), MONTHS[last]
    y = y if m >= MONTHS[first] else y + 1
    end = (dt.date(y + (m == 12), m % 12 + 1, 1) - dt.timedelta(days=1))
    return f"{start}-01..{end.isoformat()}"


def _since(name: str, year: str | None, as_of: dt.date, after: int = 0) -> str | None:
    """"since March" as the range from the latest March's first day to the data's last day ("after March": from April)."""
    month = _month(name, year, as_of)
    if not month:
        return None
    start = add_months(dt.date(int(month[:4]), int(month[5:]), 1), after)
    return f"{start.isoformat()}..{as_of.isoformat()}" if start <= as_of else None


def _half(half: str, year: str | None, as_of: dt.date, years_back: int = 0) -> str:
    first = half == "h1"
    y = int(year) if year else (as_of.year if first or as_of.month >= 7 else as_of.year - 1) - years_back
    return f"{y}-01-01..{y}-06-30" if first else f"{y}-07-01..{y}-12-31"


def _this_half(which: str, as_of: dt.date) -> str:
    """"this half" is the half-year the data's last day is in; "last half" the one before it."""
    first = as_of.month <= 6
    if which in ("this", "current"):
        return _half("h1" if first else "h2", str(as_of.year), as_of)
    return _half("h2", str(as_of.year - 1), as_of) if first else _half("h1", str(as_of.year), as_of)


# Words of a change between two periods ("improve from Q1 to Q2", "how did it move from 2023Q4 to 2024Q1").
CHANGE_WORDS = re.compile(r"\b(improv\w*|chang\w*|mov(e|ed|es|ing)|gr(ow|ew|own|owing)|ris(e|en|ing)|rose|fall\w*|fell|drop\w*"
                          r"|declin\w*|shift\w*|went|gone|better|worse|up|down|evolv\w*|compar\w*|differ\w*|delta|swing)\b")


def _quarter_pair(first: int, second: int, as_of: dt.date) -> str | None:
    """Two bare quarters compared ("Q4 vs Q3", "Q2 vs Q1"): the latest of each that has started when they fall in
    one year, so their numbers' order is their order in time; else the latest complete one of the pair and the
    other one before it (at 2024-07-15, "Q4 vs Q3" is 2023Q4 vs 2023Q3, never 2023Q4 against the later 2024Q3).
    The same quarter twice ("Q1 vs Q1") is left alone, to be asked back."""
    if first == second:
        return None
    started = {q: int(_quarter(q, as_of)[:4]) for q in (first, second)}
    if started[first] == started[second]:
        return f"{started[first]}q{first} vs {started[second]}q{second}"

    def complete(q: int) -> int:  # the year of the latest quarter q that has ended
        year = as_of.year
        return year if add_months(dt.date(year, 3 * q - 2, 1), 3) <= as_of + dt.timedelta(days=1) else year - 1

    years = {q: complete(q) for q in (first, second)}
    anchor = max((first, second), key=lambda q: (years[q], q))
    other = second if anchor == first else first
    years[other] = years[anchor] if other < anchor else years[anchor] - 1  # the one before the anchor
    return f"{years[first]}q{first} vs {years[second]}q{second}"


def _quarter(q: int, as_of: dt.date, years_back: int = 0) -> str:
    """A quarter named without a year: the latest one of that number that has started ("Q1 last year":
    the one before it)."""
    year = as_of.year if dt.date(as_of.year, 3 * q - 2, 1) <= as_of else as_of.year - 1
    return f"{year - years_back}q{q}"


# A question with one of these words is about the deals, so an unplaced one is asked back with readings.
SALES_WORDS = frozenset("""win wins won winning lose lost losing rate rates deals deal sales revenue pipeline quarter
month year reps rep team business numbers number performance performing doing conversion bookings segments
segment region regions industry product products source customers accounts quota target trending""".split())
# the words around a period that ask nothing of it ("this month so far", "and for q2?")
BARE_PERIOD_WORDS = frozenset("so far to date in for the of over during what about and then ok okay hmm".split())
# When a question names no analysis: the readings offered, best first.
UNSURE_CHOICES = ("/trend", "/why", "/winrate by region")


def interpret(question: str, vocab: Vocabulary, as_of: dt.date, context_line: str | None = None) -> Intent:
    """Read a plain question (or a slash command, passed through) into a command line. Never raises.
    When it asks back, every choice is a clean command line: words of the question no reading could
    place are left out of the choices and named in the message instead."""
    threshold = COUNT_THRESHOLD.search(question or "") if not (question or "").strip().startswith("/") else None
    if threshold is not None:  # "segments that lost more than 10 deals": no list is filtered by a count; said, never dropped
        return _count_threshold(question, threshold, vocab, as_of, context_line)
    ambiguous = AMBIGUOUS_DAY.search(question or "") if not (question or "").strip().startswith("/") else None
    if ambiguous is not None:  # "03/04/2024": the 3rd of April or the 4th of March? asked back, never guessed
        return _ambiguous_day(question, ambiguous, vocab, as_of, context_line)
    counted = COUNT.search(question or "") if not (question or "").strip().startswith("/") else None
    if counted is not None:  # "worst 3 reps", "10 biggest open deals": read without the count, then the count applied
        bare = question[:counted.start("n")] + question[counted.end("n"):]
        intent = _counted(_interpret(bare, vocab, as_of, context_line), counted, question)
    else:
        intent = _interpret(question, vocab, as_of, context_line)
    if not intent.choices or (question or "").strip().startswith("/"):
        return intent
    unplaced = _unplaced(intent.dropped) if intent.contested and not intent.unplaced else ()
    if unplaced:  # "how is mordor doing in APAC": asked which of two readings, and the word neither uses named
        intent = dataclasses.replace(intent, unplaced=unplaced, note=f"{intent.note} I don't have {_quoted(unplaced)} "
                                     "in this data, so both readings leave it out.")
    cleaned, removed = [], []
    lone_vs = intent.unplaced and re.search(r"(?:\b(?:vs\.?|versus|against|compared (?:to|with))\s+(?:the\s+)?(?:{0})\b|\b(?:{0})\s+"
                                            r"(?:vs\.?|versus|against|compared (?:to|with))(?!\s+(?:the\s+)?(?:previous|prior|last|same|\d)))".format(
                                                "|".join(map(re.escape, intent.unplaced))), question.casefold())
    for choice in intent.choices:
        parsed = parse(split_command(choice.line)[1], vocab) if choice.query is None and choice.command in USES else None
        asked = choice.query if parsed is None else parsed.query if parsed.ok else None
        if lone_vs and asked is not None and asked.compare is not None and asked.compare.kind == "previous":
            choice = _with_text(choice.command, dataclasses.replace(asked, compare=None))  # "mumbai vs pune"
            removed.append("vs")
        clean, words = _clean_choice(choice, vocab)
        cleaned.append(clean)
        removed.extend(w for w in words if w.casefold() not in {r.casefold() for r in removed})
    if not removed:
        return intent
    removed = [w for w in removed if w.casefold() not in VS_WORDS]  # a comparison left without its side is no word
    choices = tuple(dict.fromkeys(cleaned))
    if intent.unplaced:
        named = tuple(dict.fromkeys((*removed, *intent.unplaced)))
        return dataclasses.replace(intent, choices=choices, unplaced=named, note=_unplaced_note(named))
    said = f"I could not place {_quoted(tuple(removed))}, so the readings below leave it out."
    return dataclasses.replace(intent, choices=choices, note=f"{intent.note} {said}".strip() if intent.note else
                               said + " Is one of these what you meant?")


# A day written with slashes, dots or hyphens whose day and month could be either way round ("03/04/2024", "4.3.24")
AMBIGUOUS_DAY = re.compile(r"(?<![\d/.-])(?P<a>0?[1-9]|1[0-2])(?P<sep>[/.-])(?P<b>0?[1-9]|1[0-2])(?P=sep)(?P<y>20\d\d|\d\d)(?![\d/.-])")


def _ambiguous_day(question: str, found: re.Match, vocab: Vocabulary, as_of: dt.date, context_line: str | None) -> Intent:
    """Asked back with both readings of the day (month first, day first); the same day either way is read as it."""
    year = int(found.group("y")) + (2000 if len(found.group("y")) == 2 else 0)
    a, b = int(found.group("a")), int(found.group("b"))
    days = tuple(dict.fromkeys(dt.date(year, month, day).isoformat() for month, day in ((a, b), (b, a))))
    readings = [_interpret(question[:found.start()] + day + question[found.end():], vocab, as_of, context_line) for day in days]
    if len(days) == 1:
        return readings[0]
    choices = tuple(dict.fromkeys(r.request for r in readings if r.understood and not r.choices))
    said = found.group(0)
    note = (f"Is {said} the {dt.date.fromisoformat(days[0]):%-d %B %Y} (month first) or the "
            f"{dt.date.fromisoformat(days[1]):%-d %B %Y} (day first)?")
    return Intent(request=_request("unknown", None, question), choices=choices, note=note)
COUNT_NUMBER = r"(?P<n>\d{1,3}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)"
COUNT_WAY = r"(?P<way>top|bottom|worst|best|biggest|largest|lowest|highest|weakest|strongest|smallest|poorest)"
COUNT = re.compile(r"\b(?:" + COUNT_WAY + r"[\s-]+" + COUNT_NUMBER + r"|" + COUNT_NUMBER.replace("<n>", "<n2>") + r"\s+"
                   + COUNT_WAY.replace("<way>", "<way2>") + r")\b(?!\s*(?:%|k\b|m\b|pp\b|percent|days?\b|weeks?\b|"
                   r"months?\b|quarters?\b|years?\b|qtrs?\b|halves\b))", re.IGNORECASE)
# the order each command lists its rows in, as the words that ask for its first rows ("worst 3 reps": lowest first)
LIST_ORDER = {"reps": {"bottom", "worst", "lowest", "weakest", "poorest"},
              "risk": {"top", "bottom", "worst", "biggest", "largest", "lowest", "weakest", "poorest"},
              "deals": {"top", "biggest", "largest"}}
ORDER_SAID = {"reps": "lowest win rate first", "risk": "largest shortfall first", "deals": "largest first"}
SHOWN_ROWS = {"reps": 25, "risk": 8, "deals": 15}  # rows each lists without a count (templates/text/*.j2)


COUNT_THRESHOLD = re.compile(r"\b(?:(?:more|fewer|less|greater|higher|lower)\s+than|over|under|above|below|at\s+least|at\s+most|"
                             r"(?:a\s+)?min(?:imum)?(?:\s+of)?|(?:a\s+)?max(?:imum)?(?:\s+of)?)\s+(?:\d{1,6}|one|two|three|four|"
                             r"five|six|seven|eight|nine|ten|twenty|fifty|hundred)\s+(?:closed\s+|won\s+|lost\s+|open\s+)?"
                             r"(?P<noun>deals?|wins?|losses|opps?|opportunities)\b|\b\d{1,6}\+\s+(?P<noun2>deals|wins|losses)\b",
                             re.IGNORECASE)


def _count_threshold(question: str, threshold: re.Match, vocab: Vocabulary, as_of: dt.date,
                     context_line: str | None) -> Intent:
    """A list asked for with a count threshold ("reps with fewer than 5 wins", "regions with at least 20 deals"):
    no list is filtered by a count, so it is asked back, saying so, with the lists without the threshold (every
    row shows its deals, so the reader sees which pass); never answered as if the threshold had been applied."""
    said = " ".join(threshold.group(0).split())
    bare = _interpret(question[:threshold.start()] + " " + (threshold.group("noun") or threshold.group("noun2"))
                      + question[threshold.end():], vocab, as_of, context_line)
    offered: list[Request] = []
    if re.search(r"\b(segments?|areas?|pockets?|combos?|combinations?)\b", question, re.IGNORECASE):
        offered.append(_with_text("risk", Query()))
    split = next((SPLIT_NOUNS[w] for w in re.findall(r"[a-z]+", question.casefold()) if w in SPLIT_NOUNS), None)
    if split in vocab.values and not (bare.understood and not bare.choices and split in (bare.request.query or Query()).group_by):
        offered.append(_with_text("winrate", Query(group_by=(split,))))  # "regions with at least 20 deals": by region
    if bare.understood and not bare.choices and bare.request.command != "deals":
        offered.insert(0, bare.request)
    if not offered:
        offered.extend(bare.choices or ([bare.request] if bare.understood else []))
    offered = offered or [_with_text("risk", Query())]
    return Intent(UNKNOWN, bare.dropped, choices=tuple(dict.fromkeys(offered))[:3],
                  note=f"I can't filter a list by a count (“{said}”): every row shows its win rate and its deals (n), "
                       "so you can see which pass.")


def _counted(intent: Intent, counted: re.Match, question: str) -> Intent:
    """A count asked for ("worst 3 reps", "top 5 segments", "10 biggest open deals") applied to the reading of the
    question without it: the list cut to that many rows where the command's own order is the one asked; asked back,
    saying so, where it is the other end of the list ("best 3 reps": /reps lists the lowest first); kept on any
    other command, whose answer then says the count was not applied. Never dropped in silence."""
    number = (counted.group("n") or counted.group("n2")).casefold()
    way = (counted.group("way") or counted.group("way2")).casefold()
    n = int(number) if number.isdigit() else AMOUNT_WORDS.get(number) or {"eleven": 11, "twelve": 12, "fifteen": 15,
                                                                         "twenty": 20}.get(number)
    request = intent.request
    if not n or not intent.understood or intent.choices or request.query is None or request.command not in USES:
        return intent
    if n > MAX_LIMIT:
        return intent  # "top 100 deals": more than a reply lists; the grammar names a typed `top 100`
    query = dataclasses.replace(request.query, limit=n)
    command = request.command
    if command in LIST_ORDER and way not in LIST_ORDER[command]:  # "best 3 reps": the other end of the list
        whole = _with_text(command, dataclasses.replace(request.query, limit=None))
        return Intent(UNKNOWN, intent.dropped, choices=(whole,), note=f"/{command} lists {ORDER_SAID[command]}, so it "
                      f"cannot show the {way} {n} on their own; the whole list has them at its other end.")
    return dataclasses.replace(intent, request=_with_text(command, query))


def _unplaced_note(words: tuple[str, ...]) -> str:
    return f"I don't have {_quoted(words)} in this data, so I may have read the question wrongly: is one of these what you meant?"


def _clean_choice(request: Request, vocab: Vocabulary) -> tuple[Request, tuple[str, ...]]:
    """A reading offered as a choice, with the words the grammar cannot use taken out ("/winrate win rate for
    narnia and last quarter" is `/winrate last quarter`), and those words; unchanged when it reads cleanly."""
    if request.query is not None or request.command not in USES:
        return request, ()
    tokens, removed = split_command(request.line)[1].split(), []
    for _ in range(3):
        parsed = parse(" ".join(tokens), vocab)
        if parsed.ok:
            return (_with_text(request.command, parsed.query), tuple(removed)) if removed else (request, ())
        unknown = {p.word.casefold() for p in parsed.problems if p.kind in ("unknown_word", "empty_vs")}
        if not unknown:
            break
        removed.extend(dict.fromkeys(t.strip(",.?!") for t in tokens if t.casefold() in unknown))
        # a "vs" whose other side is taken out goes with it ("gondor vs rivendell" is no comparison)
        tokens = [t for i, t in enumerate(tokens) if t.casefold() not in unknown and not (
            t.casefold() in VS_WORDS and any(0 <= j < len(tokens) and tokens[j].casefold() in unknown for j in (i - 1, i + 1))
            and not (i + 1 < len(tokens) and parse(" ".join(tokens[i + 1:]), vocab).query.compare is not None))]
    return request, ()


# E-mail and politeness wrapping around a question, left out so the rest is read as usual (issue 22, twelfth set):
# "> per our discussion, pls send …", "Sent from my iPhone — …", "as discussed on the call, …", "thanks in advance,
# could I get …", "please do the needful and send …", "kindly revert with …", "Action item from Monday: …".
WRAPPING = (
    (re.compile(r"^(?:>+\s*)+"), ""),
    (re.compile(r"^sent from my [\w-]+(?: [\w-]+)?\s*(?:[—–:,]|-{1,2})\s*", re.IGNORECASE), ""),
    (re.compile(r"^(?:as (?:per|discussed|agreed|promised|mentioned)|per|following up on|further to|re)(?: (?:our|the|my|your|today's"
                r"|yesterday's|this morning's))?(?: (?:discussion|conversation|call|chat|meeting|sync|email|e-mail|thread|note"
                r"|1:1|standup))?(?: (?:on|in|during|at|from) (?:the |our |today's |yesterday's )?[\w:'-]+(?: [\w-]+)?)?\s*[,:—–-]\s*",
                re.IGNORECASE), ""),
    (re.compile(r"^action items?(?: (?:from|for) [\w' -]{1,30}?)?\s*[:—–-]\s*", re.IGNORECASE), ""),
    (re.compile(r"^(?:thanks|thank you|thx|ty)(?: (?:so much|very much))? in advance[,.!:—–-]*\s*", re.IGNORECASE), ""),
    (re.compile(r"[,.;!\s]*(?:thanks|thank you|thx|ty)(?: (?:so much|very much))? in advance[.!]*$", re.IGNORECASE), ""),
    (re.compile(r"^(?:please |pls |kindly )?do the needful(?: and| by)?\s*", re.IGNORECASE), ""),
    (re.compile(r"^(?:please |pls |kindly )?revert(?: back)? with\b", re.IGNORECASE), "send"),
    # "… that you mentioned last week": when it was mentioned, not the period asked about
    (re.compile(r"\s*\b(?:that |which )?(?:you|we) (?:mentioned|sent|shared|showed|talked about|promised)(?: (?:me|us))?"
                r"(?: (?:last|this|on|in|at|yesterday|earlier|before)\b.*)?[.?!]*$", re.IGNORECASE), ""),
)


def _unwrapped(text: str) -> str:
    """The question without its e-mail or politeness wrapping; the text itself when nothing is left."""
    rest = text
    for pattern, by in WRAPPING:
        rest = pattern.sub(by, rest, count=1).strip()
    rest = re.sub(r"^(?:pls|plz|please|kindly)\s+(?=(?:send|share|give|get|pull|show|post)\b)", "", rest, flags=re.IGNORECASE)
    return rest if re.search(r"\w", rest) else text


# Salesforce field names and SOQL-ish lines typed as a question ("IsWon rate where Region = APAC and CloseDate =
# LAST_QUARTER", "StageName = Negotiation, IsClosed = false", "by CALENDAR_MONTH", "Amount > 100000", "OwnerId
# breakdown"): read as the words they stand for, only when a field name or date literal is typed as Salesforce spells it.
SOQL_MARK = re.compile(r"\b(?:IsWon|IsClosed|StageName|CloseDate|OwnerId|Opportunity\.\w+|\w+__c|CALENDAR_(?:MONTH|QUARTER|YEAR)"
                       r"|LAST_N_(?:DAYS|WEEKS|MONTHS|QUARTERS):\d+|(?:LAST|THIS|NEXT)_(?:QUARTER|YEAR|MONTH|WEEK))\b"
                       r"|\bAmount\s*[<>]=?\s*\d")
SOQL_PERIODS = {"LAST_QUARTER": "last quarter", "THIS_QUARTER": "this quarter", "LAST_YEAR": "last year",
                "THIS_YEAR": "this year", "LAST_MONTH": "last month", "THIS_MONTH": "this month", "LAST_WEEK": "last week",
                "THIS_WEEK": "this week", "NEXT_QUARTER": "next quarter", "NEXT_YEAR": "next year", "NEXT_MONTH": "next month"}
SOQL_WORDS = (
    (r"\bOpportunity\.", ""),
    (r"\b(?:sum(?: of)? Amount|Amount sum|SUM\(Amount\))", " deals "),
    (r"\bStageName\s*=\s*'?Closed Won'?", " won deals "), (r"\bStageName\s*=\s*'?Closed Lost'?", " lost deals "),
    (r"\bIsWon\s*=\s*(?:true|TRUE)\b", " won "), (r"\bIsWon\s*=\s*(?:false|FALSE)\b", " lost "),
    (r"\bIsClosed\s*=\s*(?:false|FALSE)\b", " open deals "), (r"\bIsClosed\s*=\s*(?:true|TRUE)\b", " closed "),
    (r"\b(?:IsWon|win) (?:rate|%)", " win rate "), (r"\brate (?:of )?IsWon\b|\bIsWon rate\b|\bIsWon\b", " win rate "),
    (r"\bStageName\s*=\s*'?(\w+)'?", r" stage=\1 "),
    (r"\b(?:group(?:ed)? )?by StageName\b", " by stage "), (r"\b(?:group(?:ed)? )?by OwnerId\b|\bOwnerId breakdown(?: of)?",
                                                            " by rep "),
    (r"\bby CALENDAR_MONTH\b", " monthly "), (r"\bby CALENDAR_QUARTER\b", " quarterly "),
    (r"\bLAST_N_(DAYS|WEEKS|MONTHS|QUARTERS):(\d+)\b", lambda m: f" last {m.group(2)} {m.group(1).lower()} "),
    (r"\b(?:CloseDate\s*(?:=|in|IN)?\s*)?\b((?:LAST|THIS|NEXT)_(?:QUARTER|YEAR|MONTH|WEEK))\b", lambda m: f" {SOQL_PERIODS[m.group(1)]} "),
    (r"\bCloseDate\s*(?:=|in|IN)?\s*", " "),
    (r"\bAmount\s*>=\s*(\d+)000\b", r" at least \1k "), (r"\bAmount\s*>\s*(\d+)000\b", r" over \1k "),
    (r"\bAmount\s*<\s*(\d+)000\b", r" under \1k "),
    (r"\b(?:Region|Industry|LeadSource|Type|\w+__c)\s*=\s*'([^']+)'", r" \1 "),
    (r"\b(?:Region|Industry|LeadSource|Type|\w+__c)\s*=\s*([\w-]+(?: (?!AND\b|and\b)[A-Z][\w-]*)*)", r" \1 "),
    (r"\b(?:WHERE|where|AND)\b", " "), (r"\s*,\s*", " "),
)


def _soql(text: str) -> str:
    """A SOQL-ish line in the words its fields stand for; any other text as it is."""
    if not SOQL_MARK.search(text):
        return text
    for pattern, by in SOQL_WORDS:
        text = re.sub(pattern, by, text)
    return re.sub(r"\s+", " ", text).strip()


def _interpret(question: str, vocab: Vocabulary, as_of: dt.date, context_line: str | None = None) -> Intent:
    text = (question or "").strip()
    if text.startswith("/"):
        return Intent(Request(split_command(text)[0] or "unknown", text))
    text = _soql(_unwrapped(text))
    plain = _without_context(_mine_named(_us_region(text, vocab), vocab), vocab, as_of)  # context sentences left out
    words = _excluded(rewrite(plain, as_of), vocab)
    # what the data lacks and a half with no year are asked back in a thread as they are anywhere ("and FY24?")
    missing_concept = _out_of_data(words, plain, vocab, as_of)
    if missing_concept is not None:  # "sales velocity", "FY24 win rate": what the data lacks, said plainly
        return dataclasses.replace(missing_concept, follow_up=context_line is not None)
    halves = _halves_without_a_year(plain, vocab, as_of)
    if halves is not None:  # "win rate h1 vs h2": which year's halves?
        return dataclasses.replace(halves, follow_up=context_line is not None)
    absent = _absent_column(words, vocab)
    if absent is not None:  # "which industry …", "what about Europe?" on data with no industry or region column: say so
        return dataclasses.replace(absent, follow_up=context_line is not None)
    follow_up = context_line is not None and _is_follow_up(words, vocab)
    if follow_up:
        if UNSUPPORTED.search(words):  # "what about churn": not the thread's analysis with the word dropped
            return Intent(UNKNOWN, (), choices=_asked(_closest_readings(words)), unsupported=True, follow_up=True)
        return _scoped_follow_up(words, text, vocab, as_of, context_line)
    if _placeholder(text):  # "is X better than Y": a template, not a question; which two?
        return Intent(UNKNOWN, (), choices=_asked(PLACEHOLDER_CHOICES),
                      note="“X” and “Y” stand for segments: name the two you mean (\"is APAC better than Europe\").")
    if UNSUPPORTED.search(words) or (TARGETS.search(words) and not REPS_NAMED.search(words)):
        return Intent(UNKNOWN, (), choices=_asked(_closest_readings(words)), unsupported=True)
    managed = _management(words, vocab, as_of)
    if managed is not None:
        return managed
    if WRITE_ASKED.search(words):  # "can you fix the data for rep_3": the bot reads the export, it changes nothing
        return Intent(UNKNOWN, (), unsupported=True, note="I read the CRM's export and cannot change it: correct the "
                      "record in the CRM and the next export carries it.")
    event = EVENT_ASKED.search(words)
    if event:  # "did the training in may help win rates": the data holds no such event, so no effect can be told
        return Intent(UNKNOWN, (), choices=_asked(("/trend",)), unsupported=True,
                      note=f"The data has no record of the {event.group('event')} (when, or who took part), so its "
                      "effect cannot be told apart from anything else: the win rate over time is on /trend.")
    missing = _segment_not_in_data(words, vocab)
    if missing:  # "win rate for the medical devices vertical": no such industry in the data; say so, offer the split
        return Intent(UNKNOWN, (), note=missing[0], choices=_asked((f"/winrate by {missing[1]}",)), unsupported=True)
    args, dropped = _arguments(words, vocab, _proper_nouns(text))
    whose = _whose(words, text, args, vocab, as_of)
    if whose is not None:  # "why is my win rate down": whose? the data links no one to a rep, region or team
        return whose
    if "against-team" in words and not REPS_NAMED.search(words) and (  # "is APAC worse than the rest of the team":
            SEGMENT_NOUNS.search(words) or any(d != REP for d, _ in parse(args, vocab).query.filters)):
        words = words.replace("against-team", "vs-others")  # APAC against the other regions, not its reps
    command = command_of(re.sub(r"\b\w+=\S+", " ", words))  # "stage=Proposal" typed is a filter, not the funnel's subject
    if command == "reps" and context_line is None and re.match(r"^(what about|how about|what of|same for|and)\b", words) \
            and command_of(re.sub(r"\brep[ #]?(\d+)\b", r"rep_\1", words)) is None:
        command = None  # "what about rep 4" names one rep as "what about rep_4" does, no analysis: which one?
    if command == "why" and context_line is None and not args and re.search(r"\bwhat is (going on|happening|up)\b", words) \
            and not SALES_WORDS.intersection(words.split()):
        return Intent(UNKNOWN, dropped, choices=_asked(UNSURE_CHOICES))  # "what's happening?" names nothing to explain
    if command is None and context_line is None and re.match(r"^(what about|how about|what of|same for|and)\b", words):
        parsed = parse(args, vocab)  # "what about last quarter?" with nothing before it: which analysis?
        if parsed.ok and (parsed.query.filters or parsed.query.period):
            return Intent(UNKNOWN, dropped, choices=tuple(_shaped(c, words, args, vocab, as_of)
                                                          for c in ("winrate", "trend", "why")))
    outcome = _outcome_of(words)
    if outcome in ("won", "lost") and not RATE_ASKED.search(words) and (
            (command in (None, "winrate") and MONEY_ASKED.search(words)
             and not re.search(r"%|\b(percent\w*|share|proportion|ratio|fraction|how often)\b", words))
            or (command is None and re.search(r"\b(deals|opps|opportunities)\b.*\b(that|which) (we )?(lost|won)\b", words))):
        command = "deals"  # "how much did we win in dollars", "big deals that we lost": the deals and their amounts, not a rate
    if command == "pipeline" and BOOKED.search(words) and not FUTURE_WORDS.search(words):
        asked = parse(args, vocab).query  # "what did Partner deals book in H1", "bookings ytd": a past period's won deals
        span = resolve(asked.period, as_of) if asked.period is not None else None
        if span is not None and span.start <= as_of:
            if asked.group_by or asked.grain or asked.compare:  # "bookings by quarter": the list splits nothing; which?
                return Intent(UNKNOWN, dropped, choices=(
                    _with_text("deals", dataclasses.replace(asked, group_by=(), grain=None, compare=None, outcome="won")),
                    _with_text("trend", dataclasses.replace(asked, group_by=(), compare=None, outcome=None))))
            command = "deals"
    if command == "pipeline" and not re.search(r"\b(pipeline|pipe|forecast\w*|coverage|commit)\b", words) and any(
            d == "deal_stage" for d, _ in parse(args, vocab).query.filters) and (
            outcome == "lost" or re.search(r"\b(deals|opps|opportunities)\b.*\bopen\b|^(the |our |all )?open (deals|opps"
                                           r"|opportunities)\b", words)):
        command = "deals"  # "lost deals that stalled at proposal", "deals stuck in qualified, open": those deals, listed
    if command == "funnel" and re.search(r"\bhow many (\w+ ){0,2}(deals|opps|opportunities) (did|have|has) \S+ (lose|lost)\b",
                                         words) and any(d == "deal_stage" for d, _ in parse(args, vocab).query.filters):
        command = "deals"  # "how many deals did we lose in the Negotiation stage": those deals, counted, not every step
    if command == "funnel" and DEALS_AT_STAGE.search(words) and any(
            d == "deal_stage" for d, _ in parse(args, vocab).query.filters):
        command = "deals"  # "lost deals that reached negotiation", "enterprise deals that died in negotiation": those deals
    if command in (None, "winrate") and outcome in ("won", "lost") and not RATE_ASKED.search(words) and re.search(
            r"\b(the|a|as a|in a) list\b|\blist (them|those|it)\b", words):
        command = "deals"  # "new customers won in APAC last quarter — the list"
    if command == "deals" and RATE_ASKED.search(words) and not LIST_ASKED.search(words):
        command = "winrate"  # "the conversion rate on closed deals": a rate of the deals, not their list
    if command is None:
        parsed = parse(args, vocab)
        split = parsed.query.group_by and re.search(r"^by\b|\b(break ?down|broken (down|out)|split|slice|cut)\b",
                                                    FOLLOW_UP_START.sub("", words))  # "now by product" as "by product"
        named = parsed.query.filters or parsed.query.period or split or any(
            norm(p.word) in NEAREST_VALUES for p in parsed.problems)  # "SMB": say which values are closest
        if not args or not named:
            about_sales = SALES_WORDS.intersection(words.split())
            return Intent(UNKNOWN, dropped, choices=_asked(UNSURE_CHOICES) if about_sales else ())
        if parsed.query.period is not None and not (parsed.query.filters or parsed.query.group_by or parsed.query.compare) \
                and set(dropped) <= BARE_PERIOD_WORDS and not re.search(r"\b(deals?|opps?|opportunit\w+|won|lost|wins|losses)\b", words):
            # "this month so far": a period and nothing to measure in it; which analysis?
            return Intent(UNKNOWN, dropped, choices=tuple(_shaped(c, words, args, vocab, as_of) for c in ("winrate", "why",
                                                                                                           "deals")))
        # only segments and periods: their win rate; with the deals named ("rep_3 deals this quarter"), the deals
        command = "deals" if (re.search(r"\b(deals|opps|opportunities)\b", words) or re.match(r"(won|lost)\b", words)) \
            and set(dropped) <= {
            "deals", "opps", "opportunities", "the", "our", "my", "all", "of", "for", "in", "sitting", "still", "currently"} \
            else "winrate"
    both = _two_periods(args, vocab, as_of)
    if both:  # "lose more in q2 than the rest of last year": which period? never one read over the other in silence
        return Intent(UNKNOWN, dropped, choices=tuple(dict.fromkeys(_shaped(command, words, a, vocab, as_of)
                                                                    for a in both)))
    others = [c for c in commands_matching(words) + list(NEIGHBOURS.get(command, ())) if c != command]
    request = _shaped(command, words, args, vocab, as_of)
    q = request.query
    current = f"{as_of.year}q{(as_of.month - 1) // 3 + 1}"
    if command != "pipeline" and q is not None and q.period is not None and q.period.text == current and not q.compare \
            and BARE_QUARTER.search(plain.casefold()) and f"q{current[-1]}" in BARE_QUARTER.findall(plain.casefold()) \
            and not re.search(r"\b(this|current|last|previous) (year|yr|quarter|qtr|q)\b|\bqtd\b", plain.casefold()):
        # "what's the win rate in q3" while Q3 has just begun: these few weeks, or last year's Q3? asked back, both offered
        earlier = PeriodSpec("calendar", ("quarter", as_of.year - 1, int(current[-1])), f"{as_of.year - 1}q{current[-1]}")
        return Intent(UNKNOWN, dropped, note=f"{current.upper()} has only begun: its first days, or the whole "
                      f"{as_of.year - 1} one?", choices=(request, _with_text(request.command, dataclasses.replace(q, period=earlier))))
    if command != "pipeline" and NEXT_PERIOD.search(words) and not re.search(r"\b(before|budget|plan|renewal|focus)\b", words):
        q = request.query or Query()  # "what will next year's win rate be": no deal has closed then; never the period dropped
        return Intent(UNKNOWN, dropped, note="No deal has closed in a period still to come: the forecast of the open deals "
                      "is on /pipeline, and what has closed so far is below.", choices=(
                          _with_text("pipeline", dataclasses.replace(q, period=None, compare=None, grain=None, outcome=None,
                                                                     group_by=())),
                          _with_text(request.command, dataclasses.replace(q, period=None, compare=None))))
    outside = _outside_data(command, parse(args, vocab).query, vocab, as_of)
    if outside:  # "win rate in Q3 2019", "the forecast for 2026": no deals there to answer with; say so, offer the nearest
        q = request.query or Query()
        return Intent(UNKNOWN, dropped, note=outside, choices=tuple(dict.fromkeys(
            [_with_text(request.command, dataclasses.replace(q, period=None, compare=None)),
             _with_text(request.command, dataclasses.replace(q, period=PeriodSpec("relative", ("quarter", -1),
                                                                                   "last quarter"), compare=None))]
            if request.command != "pipeline" else [_with_text("pipeline", dataclasses.replace(q, period=None))])))
    q = request.query
    if request.command == "winrate" and q is not None and len(q.group_by) == 1 and re.search(r"\w=[^\s,]+,", text) and any(
            d == q.group_by[0] and len(v) > 1 for d, v in q.filters) and not re.search(
            r"\b(by|vs|versus|compared?|comparing|against|better|worse|than|side by side|each|split)\b", words):
        request = _with_text("winrate", dataclasses.replace(q, group_by=()))  # "region=APAC,India": pooled, as typed
        q = request.query
    asked_q = parse(args, vocab).query
    if q is not None and asked_q.compare is not None and q.compare is None and request.command not in (*COMPARING, "deals"):
        return _cannot_compare(request.command, dataclasses.replace(q, period=asked_q.period, compare=asked_q.compare),
                               dropped, follow_up=False)  # "funnel q1 vs q2": never the comparison dropped
    if request.command == "deals" and q is not None and asked_q.compare is not None and asked_q.period is not None:
        both = [_with_text("deals", dataclasses.replace(q, period=spec)) for spec in (asked_q.period, asked_q.compare)
                if spec.kind in ("calendar", "range", "relative", "ytd", "all") or spec is asked_q.period]
        return Intent(UNKNOWN, dropped, choices=tuple(both) + (_with_text("winrate", dataclasses.replace(
            asked_q, group_by=(), grain=None, outcome=None)),))  # "bookings 2023 vs 2024": the list compares nothing
    if q is not None and re.match(r"^(compare|comparison of|benchmark)\b", text.casefold()) and len(q.filters) == 1 \
            and len(q.filters[0][1]) == 1 and not (q.compare or q.group_by or OTHERS.search(words)):
        dim = q.filters[0][0]  # "compare APAC": against what? the other values, a year before, or the period before
        return Intent(UNKNOWN, dropped, choices=(
            _with_text("winrate", dataclasses.replace(q, filters=(), group_by=(dim,))),
            _with_text("winrate", dataclasses.replace(q, compare=PeriodSpec("year_ago", (), "same period last year"))),
            _with_text("winrate", dataclasses.replace(q, compare=PeriodSpec("previous", (), "previous period")))))
    if _against_itself(request.query, as_of):  # "Q1 vs Q1": a year or the period before was meant; ask which
        q = request.query
        return Intent(UNKNOWN, dropped, choices=tuple(
            _with_text(request.command, dataclasses.replace(q, compare=PeriodSpec(kind, (), text)))
            for kind, text in (("year_ago", "same period last year"), ("previous", "previous period"))))
    threshold = THRESHOLD.search(plain.casefold())
    if threshold and request.query is not None:  # "is APAC higher than 40%": never "vs previous" with the 40% dropped
        bare = interpret(plain.casefold()[:threshold.start()] + " " + plain.casefold()[threshold.end():], vocab, as_of)
        offered = (bare.request,) if bare.understood and not bare.choices else bare.choices
        return Intent(UNKNOWN, dropped, choices=offered, note=f"I don't test a rate against a fixed "
                      f"{threshold.group(1)}%: the win rate comes with its 95% interval, so you can see whether it "
                      f"clears {threshold.group(1)}% (`/alerts add winrate … below {threshold.group(1)}%` watches it).")
    negated = _negated_period(words, vocab)
    if negated and request.query is not None:  # "win rate except for Q1": no period can be left out; never Q1 alone
        return Intent(UNKNOWN, dropped, note=f"I can't leave a period out (“{negated}”): name the period to answer "
                      "about instead (a quarter, `ytd`, or dates like 2024-04-01..2024-06-30).",
                      choices=(_with_text(request.command, dataclasses.replace(request.query, period=None, compare=None)),))
    mismatch = _unit_mismatch(request, plain, as_of)
    if mismatch is not None:  # "this quarter vs previous month": a month named against a quarter; never the month dropped
        return dataclasses.replace(mismatch, dropped=dropped)
    if (request.command == "winrate" or request.command == "trend" and re.search(r"\bdid\b", plain.casefold())) \
            and q is not None and q.compare is None and q.period is not None \
            and CHANGED_SINCE.search(plain.casefold()):  # "did win rate change after january": the rate since then shows no change
        return Intent(UNKNOWN, dropped, note="A change since then is measured against something before it: why it "
                      "changed (against the quarters before), or the rate month by month.", choices=(
                          _with_text("why", q), _with_text("trend", dataclasses.replace(q, period=None, grain="month"))))
    pair = next(((d, v) for d, v in q.filters if len(v) == 2), None) if q is not None else None
    if pair is not None and request.command in ("winrate", "why") and q.compare is None and (
            CHANGES_COMPARED.search(words) or (request.command == "why" and CONTRASTED.search(words))):
        # "is the APAC drop bigger than the Europe one": two changes compared; each change side by side, or each why
        dim, values = pair
        rest = tuple((d, v) for d, v in q.filters if d != dim)
        return Intent(UNKNOWN, dropped, choices=(
            _with_text("winrate", dataclasses.replace(q, group_by=(dim,), compare=PeriodSpec("previous", (), "previous period"))),
            *(_with_text("why", dataclasses.replace(q, filters=rest + ((dim, (value,)),), group_by=())) for value in values)))
    contest = _contested(request, words, text, args, vocab, as_of)
    if contest is not None:  # a shape careful readers take two ways: ask which, with each reading a button
        shape, readings = contest
        said = text if len(text) <= 80 else text[:79].rstrip() + "…"
        return Intent(UNKNOWN, dropped, choices=readings, unsupported=shape.unsupported, contested=shape.name,
                      note=shape.says if shape.unsupported else f"“{said}” reads two ways: {shape.says}")
    alternatives: list[Request] = []
    for other in dict.fromkeys(c for c in others if c in NEIGHBOURS and c != request.command):
        reading = _shaped(other, words, args, vocab, as_of)
        if len(alternatives) < 2 and reading.line not in [a.line for a in alternatives] + [request.line]:
            alternatives.append(reading)
    unplaced = _unplaced(dropped)
    if unplaced:  # "mumbai vs bangalore", "EBITDA impact of …": a word nothing places; never answered silently
        return Intent(UNKNOWN, dropped, choices=(request, *alternatives), unplaced=unplaced,
                      note=_unplaced_note(unplaced))
    return Intent(request, dropped, alternatives=tuple(alternatives))


COMPARED_SPAN = re.compile(
    r"\b(?:vs\.?|versus|against|compared? (?:to|with)|compares (?:to|with)|relative to|than|over) (?:the )?(?:(?:previous|prior|last|preceding|past)\s+"
    r"(?:(?P<n>\d+|one|two|three|four|six|twelve) )?(?P<unit>months?|mos?|quarters?|qtrs?|weeks?|wks?|halfs?|halves|years?|yrs?|days?)"
    r"|(?:(?P<n2>\d+|one|two|three|four|six|twelve) )?(?P<unit2>months?|mos?|quarters?|qtrs?|weeks?|wks?|halfs?|halves|years?|yrs?|days?)"
    r" (?:just )?before)\b")
SPAN_DAYS = {"day": 1, "week": 7, "wk": 7, "month": 30.4, "mo": 30.4, "quarter": 91.3, "qtr": 91.3, "half": 182.6, "halve": 182.6,
             "year": 365.2, "yr": 365.2}
SPAN_COUNTS = {"one": 1, "two": 2, "three": 3, "four": 4, "six": 6, "twelve": 12}


# "did the win rate change after january", "has it improved since March": a change from a point on, not a level
CHANGED_SINCE = re.compile(r"\b(did|has|have|does|do)\b.*\b(chang\w*|mov(e|ed)|improv\w*|drop\w*|fall|fell|fallen|declin\w*"
                           r"|shift\w*|(go|gone|went) (up|down))\b.*\b(after|since)\b(?! (last|the previous|the prior) )")
# "is the APAC drop bigger than Europe's", "which fell further, APAC or India": two changes set against each other
CHANGES_COMPARED = re.compile(r"\b(drop|decline|fall|dip|slide|slump|rise|gain|jump|change|improvement|swing)s? (is |was |been )?"
                              r"(bigger|larger|smaller|worse|steeper|sharper|deeper|greater)\b|\b(bigger|larger|smaller|steeper"
                              r"|sharper|deeper|greater) (drop|decline|fall|dip|slide|slump|rise|gain|jump|change|improvement)\b"
                              r"|\b(fell|dropped|declined|slipped|fallen|rose|grew|improved) (further|more|harder|faster)\b")


# "why did Europe hold up when APAC fell": one segment's change set against another's, not the two pooled
CONTRASTED = re.compile(r"\b(held|hold|holding|stay\w*|kept|keep|gr[eo]w\w*|ris\w*|rose|improv\w*|fall\w*|fell|drop\w*|declin\w*"
                        r"|slip\w*|tank\w*|collaps\w*)"
                        r"\b.*\b(when|while|whereas|but|yet|even though|although)\b")


def _span_days(spec: PeriodSpec, as_of: dt.date) -> float | None:
    """How long a period reads, in days (a quarter whole even while it runs); None when it has no fixed length."""
    if spec.kind in ("calendar", "relative"):
        return SPAN_DAYS.get(spec.args[0])
    if spec.kind == "last_n":
        return SPAN_DAYS.get(spec.args[0], 0) * spec.args[1] or None
    if spec.kind == "last_days":
        return float(spec.args[0])
    if spec.kind in ("range", "to_date"):  # "ytd": the days it has run
        span = resolve(spec, as_of)
        return float((span.end - span.start).days + 1) if span is not None else None
    return None


def _unit_mismatch(request: Request, plain: str, as_of: dt.date) -> Intent | None:
    """"this quarter vs previous month", "ytd vs the previous 2 months": the compared span the question names is not
    as long as its period, so "vs previous" (as long again, just before) would answer with the named span dropped.
    Asked back: the period against the one before it, or the named span against the one before that."""
    q = request.query
    if q is None or q.period is None or q.compare is None or q.compare.kind != "previous":
        return None
    m = COMPARED_SPAN.search(plain.casefold())
    if m is None:
        return None
    unit = (m.group("unit") or m.group("unit2")).rstrip("s")
    count = m.group("n") or m.group("n2") or "1"
    count = int(SPAN_COUNTS.get(count, count))
    named, own = SPAN_DAYS[unit] * count, _span_days(q.period, as_of)
    if own is None or 0.8 <= named / own <= 1.25:
        return None
    grain = {"mo": "month", "qtr": "quarter", "wk": "week", "halve": "half", "yr": "year"}.get(unit, unit)
    if grain in ("month", "quarter", "year"):
        period = PeriodSpec("relative", (grain, -1), f"last {grain}") if count == 1 else \
            PeriodSpec("last_n", (grain, count), f"last {count} {grain}s")
    else:
        days = round(SPAN_DAYS[unit] * count)
        period = PeriodSpec("last_days", (days,), f"last {days} days")
    said = m.group(0).strip()
    return Intent(UNKNOWN, (), note=f"“{said}” names a span of another length than {q.period.text}: which comparison?",
                  choices=tuple(dict.fromkeys((request, _with_text(request.command, dataclasses.replace(q, period=period))))))


# -- contested shapes: asked back, never guessed --------------------------------------------------------------
# Some question shapes are read one way by some careful readers and another way by others, each defensibly: the
# corpora (tests/measure/corpus) written blind by different people pin them differently, so no word rule can pick
# for everyone. For such a shape the layer does not pick: it asks back with each reading as a button. A shape is
# listed only when at least two corpora disagree on it (or the ambiguity is plain), and only the words that make one
# reading clearly stronger settle it (an explicit command word, a word of change over time, a comparison named).
# What each reading is comes from the layer's own reading (`request`) and the same words read as the other command,
# so the buttons carry exactly what either reading would have answered.
@dataclass(frozen=True)
class Contest:
    """A question shape careful readers take two ways, the command the layer reads it as, the words that settle it
    (then it is answered as read), and the other reading (None: the other reading is something the data cannot
    measure, so the one reading is offered with `says` naming what is missing)."""

    name: str
    command: str  # the layer's own reading's command when the shape applies
    shape: re.Pattern  # on the question's words as rewritten (lower case, phrasings spelt out)
    settled: re.Pattern | None  # words that make the layer's reading clearly the stronger one
    other: str | None  # the competing reading's command
    says: str  # what the two readings are (after "“…” reads two ways: "), or what the data lacks
    disagree: str  # the corpora that read the shape differently (the evidence that it is contested)
    unsupported: bool = False
    typed: bool = False  # the shape and what settles it are matched on the question as typed ("qoq" is rewritten)
    vary: Callable[[Query], Query] | None = None  # the other reading's arguments, from the question's (else as read)


# words of change over time: the trend, not a level
OVER_TIME = re.compile(r"\b(lately|recently|these days|of late|been|trend\w*|trajector\w*|over time|over the (last|past)|history"
                       r"|historical\w*|used to|getting|gotten|improv\w*|declin\w*|worsening|slipping|recovering|rising|falling"
                       r"|steady|steadily|stable|consistent\w*|real|noise|noisy|significant\w*|luck|fluke|blip|shape|better|worse)\b")
QUARTER_ON_QUARTER = re.compile(r"\b(qoq|q/q|q-o-q|quarter[- ](over|on|to)[- ]quarter)\b", re.IGNORECASE)
CONTESTS = (
    # "how are we doing (in APAC, this quarter, on win rate)": the trend (its verdict and latest rate) in six sets,
    # the rate alone in heldout2/5/7/8/9, asked back when bare in heldout5/6/8/9
    Contest("how-doing", "trend", re.compile(r"\bhow (is|are|was|were|did|do|does)\b.*\b(doing|do|performing|performed|going"
                                             r"|look|looking|tracking)\b"),
            OVER_TIME, "winrate",
            "the win rate now, or how it has moved over the quarters.",
            "questions/blind1-3/heldout/heldout4 (the trend) against heldout2/5/7/8/9 (the rate) and "
            "heldout5/6/8/9 (asked back)"),
    # "how is rep_7 doing": the rep against the team (/reps) in the development set, the rep's rate in heldout2/5/6/7/8/9
    Contest("rep-doing", "reps", re.compile(r"\bhow\b.*\b(doing|do|did|performing|performed|looking|going)\b"),
            re.compile(r"\b(vs|versus|against|compared?|comparison|team|rest|others|peers|rank\w*|stacks? up|luck\w*"
                       r"|unlucky|leaderboard)\b"), "winrate",
            "the rep's own win rate, or the rep against the rest of the team.",
            "questions (the rep against the team) against heldout2/5/6/7/8/9 (the rep's rate)"),
    # "win rate by rep": each rep's raw rate (heldout5, the unit tests) or the reps' table (heldout2/6/7/9)
    Contest("rate-by-rep", "winrate", re.compile(r"\b(by|per|each|every|broken down|split)\b.*\b(reps?|sales_rep_id|aes?"
                                                 r"|sellers?)\b|\b(reps?|aes?|sellers?)\b"),
            re.compile(r"\b(raw|unadjusted|unshrunk|side by side)\b"), "reps",
            "each rep's win rate side by side, or the reps' table (rates after luck, the ones to act on "
            "flagged).",
            "heldout5 (each rep's rate) against heldout2/6/7/9 (the reps' table)"),
    # "rank regions", "which region performs best": the rates by region (questions) or the luck-adjusted ranking
    # /reps does for any dimension (heldout7)
    Contest("rank-segments", "winrate", re.compile(r"\b(rank\w*|performs?|performing|performed|leaderboard)\b"),
            None, "reps",
            "the win rates as they are, or ranked after luck (small segments shrunk toward the team).",
            "questions (the rates) against heldout7 (ranked after luck)"),
    # "qoq win rate (by region)": the quarterly trend (heldout2/8) or last quarter against the one before (heldout8/9)
    Contest("quarter-on-quarter", "trend", QUARTER_ON_QUARTER, OVER_TIME, "winrate",
            "the win rate quarter by quarter, or the latest quarter against the one before.", "heldout2/8 (the quarterly trend) against heldout8/9 (against the quarter before)", typed=True,
            vary=lambda q: dataclasses.replace(q, grain=None, compare=PeriodSpec("previous", (), "previous period"))),
    # "big deals vs small ones, which do we win more": the two bands (blind3/heldout) or every band (heldout2/9);
    # bands given as amounts ("big deals (100k+) vs small ones (<10k)") are the two
    Contest("big-and-small", "winrate", re.compile(r"\b(big|bigger|biggest|large|larger|largest)\b.*\b(small|smaller"
                                                    r"|smallest)\b|\b(small|smaller|smallest)\b.*\b(big|bigger|biggest|large"
                                                    r"|larger|largest)\b"),
            re.compile(r"\d+ ?k\b|\$\d|\b(band|bands)\b"), "winrate",
            "the largest size band against the smallest, or every size band side by side.", "blind3/heldout (the two bands) against heldout2/heldout9 (every band)", typed=True,
            vary=lambda q: dataclasses.replace(q, filters=tuple((d, v) for d, v in q.filters if d != "size_band"),
                                               group_by=("size_band",))),
    # quota attainment: each rep's rate stands in (questions/blind1-3/heldout) or it is asked back, since the data
    # holds no quota (heldout6/7/8)
    Contest("attainment", "reps", re.compile(r"\b(quota|attainment)\b"), None, None,
            "Attainment is measured against a quota, and the data holds none.", "questions/blind1-3/heldout (the reps) against heldout6/7/8 (asked back)", unsupported=True),
    # "how many deals did we lose last quarter": the rate with its counts (questions, heldout10's twin) or the deals
    # listed and counted (heldout10); "how many deals closed in May" the same
    Contest("how-many-deals", "winrate", re.compile(r"\bhow many (\w+ ){0,2}(deals|opps|opportunities) (did \S+ |have \S+ |has \S+ "
                                                    r"|we |were |got )?(win|won|lose|lost|close|closed)\b"),
            re.compile(r"%|\b(rates?|percent\w*|share|proportion|fraction|how often|out of)\b"), "deals",
            "the win rate (with the deals won and lost counted), or the deals themselves, listed.",
            "questions/heldout10 (the rate) against heldout10/blind2 (the deals)"),
    # "how much did we win in APAC": the win rate (questions) or the deals won and their amount (heldout6/9/11, where
    # "how much did we win in December", "how much did we lose last quarter" are the deals)
    Contest("how-much-won", "winrate", re.compile(r"\bhow much (did|have|has) (we|you|the team|\S+) (win|won|lose|lost)\b"),
            re.compile(r"%|\b(rates?|percent\w*|share|proportion|fraction|how often|out of)\b"), "deals",
            "the win rate (with the deals won and lost counted), or the deals themselves with their amounts.",
            "questions (the rate) against heldout6/heldout9/heldout11 (the deals)"),
    # "how many open deals do we have": the forecast of the open deals (questions) or the open deals listed (heldout9)
    Contest("how-many-open", "pipeline", re.compile(r"\bhow many open (deals|opps|opportunities)\b"),
            re.compile(r"\b(forecast\w*|pipeline|worth|value|expected|likely)\b"), "deals",
            "the forecast of the open deals, or the open deals themselves, listed.",
            "questions (the forecast) against heldout9 (the deals)"),
    # "how is rep_7 doing vs the team": the reps' table with that rep alone (blind1/blind3) or every rep (heldout2/10)
    Contest("rep-vs-team", "reps", re.compile(r"\bagainst-team\b|\bstacks? up\b|\b(vs|versus|against|compared to|relative to) "
                                              r"(the )?(rest|team|others|peers|everyone)\b"),
            None, "reps",
            "that rep's row of the reps' table, or the whole table (every rep, after luck).",
            "blind1/blind3 (that rep) against heldout2/heldout10 (every rep)",
            vary=lambda q: dataclasses.replace(q, filters=tuple((d, v) for d, v in q.filters if d != REP))),
    # "win rate by stage": the funnel's stage-to-stage conversion (heldout9) or the win rate split by the last stage a
    # deal reached (heldout9/heldout10)
    Contest("rate-by-stage", "funnel", re.compile(r"\b(win ?rates?|winrate)\b.*\bby (the )?((deal|last|final|furthest|latest)"
                                                  r" )?stages?\b"), None, "winrate",
            "the funnel (how deals pass from stage to stage), or the win rate split by the last stage each deal reached.",
            "heldout9 (the funnel) against heldout9/heldout10 (the rate by stage)", typed=True,
            vary=lambda q: dataclasses.replace(q, group_by=("deal_stage",))),
    # "what's our commit for Q3": the forecast (questions, heldout2) or asked back, since the data holds no commit
    # call (heldout11)
    Contest("commit", "pipeline", re.compile(r"\bcommit\b"), None, None,
            "A commit is the forecast a team calls, and the data holds none: the forecast of the open deals is on "
            "/pipeline.", "questions (the forecast) against heldout11 (asked back)", unsupported=True),
    # making the number: the forecast (questions) or asked back, since the data holds no target (heldout8/9)
    Contest("the-number", "pipeline", re.compile(r"\b(make|makes|making|hit|hits|hitting|reach|meet|beat|miss)( \w+)? "
                                                 r"(the|our|this|my) (number|numbers|quarter)\b"), None, None,
            "Making the number is measured against a target, and the data holds none.", "questions (the forecast) against heldout8/9 (asked back)", unsupported=True),
)


def _contested(request: Request, words: str, text: str, args: str, vocab: Vocabulary,
               as_of: dt.date) -> tuple[Contest, tuple[Request, ...]] | None:
    """The contested shape a reading falls in, with the readings to offer (the layer's own first), or None when
    the question fits no contested shape or its words settle which reading is meant."""
    q = request.query
    if q is None:  # arguments with a problem: the answer names it (an unknown segment, a period with no deals)
        return None
    for contest in CONTESTS:
        said = text.casefold() if contest.typed else words
        if request.command != contest.command or not contest.shape.search(said):
            continue
        if contest.settled is not None and contest.settled.search(said):
            continue
        if not _shape_fits(contest.name, q):
            continue
        if contest.other is None:
            return contest, (request,)
        if contest.vary is not None:  # the other reading's arguments, made from the question's own
            other = _with_text(contest.other, contest.vary(parse(args, vocab).query))
        else:
            other = _shaped(contest.other, words, args, vocab, as_of)
        if other.line != request.line:
            return contest, (request, other)
    return None


def _shape_fits(name: str, q: Query) -> bool:
    """Whether the reading's arguments are the ones the contested shape is about."""
    reps = [len(v) for d, v in q.filters if d == REP]
    if name == "how-doing":
        return q.compare is None and q.grain is None
    if name == "rep-doing":
        return reps == [1]
    if name == "rate-by-rep":
        return REP in q.group_by and not any(n > 1 for n in reps)
    if name == "rank-segments":
        return len(q.group_by) == 1 and q.group_by[0] != REP and q.compare is None
    if name == "rep-vs-team":
        return reps == [1]
    if name in ("how-many-deals", "how-much-won"):
        return q.compare is None and not q.group_by
    if name == "big-and-small":
        return q.group_by == ("size_band",) and any(d == "size_band" and len(v) == 2 for d, v in q.filters)
    return True


# A message in several sentences, or one opening with a clause of when or why ("Before I go into the pricing
# review, …"): the parts that ask nothing and name nothing the rest does not are context, left out.
SENTENCES = re.compile(r"(?<=[.?!:;])\s+(?=\S)")
PREAMBLE = re.compile(r"^((before|ahead of|prior to|after|for) [^,.?!]{3,90}?)(?:,\s*|\s+(?=(i'd|i would|i want|i need"
                      r"|i'm trying|can you|could you|please|what|which|how|why|who)\b))", re.IGNORECASE)


THEN = re.compile(r"\b(since then|since that( time| point| change)?|ever since|from then on)\b", re.IGNORECASE)


MINE = re.compile(r"\bi (?:run|lead|manage|own|head|cover|look after|am responsible for|'m responsible for|am in charge of"
                  r"|'m in charge of)(?: the| our)? (?P<what>[\w-]+(?: [\w-]+)??)(?= (?:team|region|territory|org|business|"
                  r"segment|vertical|book|patch|market|side|geo)\b|[ ,.;:!?]|$)", re.IGNORECASE)
MY_SEGMENT = re.compile(r"\bmy (region|team|territory|geo|vertical|segment|area|patch|market|org|business)\b", re.IGNORECASE)


EXCLUDED = re.compile(r"\b(?:excluding|exclude|excl|except(?: for)?|outside(?: of)?|without|other than|apart from|but not|not in"
                      r"|not including|not counting|minus|leaving out|leave out|leaving aside|setting aside|ignoring|ignore"
                      r"|(?:everything|everyone|every \w+|all|any \w+|anything|anyone|all \w+) but"
                      r"|not(?: (?:from|for|by|via|through|sourced (?:by|from|through|via)))?|(?<=\S )no)"
                      r"\s+(?:the |any |all )?(?P<what>[\w<>+-]+(?:,? (?:and |or |& )?[\w<>+-]+){0,5})"
                      r"|\bnon-?\s?(?P<non>[\w]+(?: [\w]+)?)")


def _excluded(words: str, vocab: Vocabulary) -> str:
    """"win rate excluding partner deals", "everything except Enterprise", "outside North America", "non-APAC": the other
    values of that dimension, pooled (never the value named, which would answer the opposite)."""
    def other_values(m: re.Match) -> str:
        what = (m.group("what") or m.group("non") or "").replace(",", " ").split()
        named: dict[str, list[str]] = {}
        used = 0
        while used < len(what):  # "fintech and saas", "APAC, Europe or India", "APAC and Enterprise": each value named
            start = used + (what[used] in ("and", "or", "&", "nor") and used > 0)
            for n in (2, 1):  # "north america", then "partner deals"
                said = " ".join(what[start:start + n])
                said = re.sub(r"^reps (?=\d)", "rep ", said)  # "reps 3 and 7"
                said = f"rep {said}" if said.isdigit() and "sales_rep_id" in named else said
                q = parse(said, vocab)
                alone = parse(said.rsplit(" ", 1)[0], vocab) if n == 2 else None  # "india vs": "vs" is no part of it
                if n == 2 and alone is not None and not alone.problems and alone.query.filters == q.query.filters:
                    continue
                if start + n <= len(what) and not q.problems and len(q.query.filters) == 1 and not (
                        q.query.period or q.query.group_by):
                    (dim, values), = q.query.filters
                    named.setdefault(dim, []).extend(values)
                    used = start + n
                    break
            else:
                break
        kept = dict(parse(words[:m.start()] + " " + words[m.end():], vocab).query.filters)
        if named and all(d in kept and not set(kept[d]) & set(v) for d, v in named.items()):
            return " " + " ".join(what[used:])  # "APAC not Europe": APAC already leaves Europe out
        named = {d: v for d, v in named.items() if d not in kept}  # "APAC not Europe, no enterprise"
        rests = {d: [v.replace(" ", "") for v in vocab.values.get(d, ()) if v not in values] for d, values in named.items()}
        if rests and all(rests.values()):  # neither of them: every other value of each dimension named
            return " ".join(f"{d}={','.join(rest)}" for d, rest in rests.items()) + " combined " + " ".join(what[used:])
        return m.group(0)
    # "all regions except APAC": "all" says every other one, not all time
    words = re.sub(r"\b(?:all|every) (?=(?:the |our )?(?:regions?|industr(?:y|ies)|verticals?|products?|sources?|lead sources?|"
                   r"channels?|reps?|segments?|deals?|geos?|opps?|opportunities) (?:except|but|excluding|other than|apart from)\b)",
                   "", words)
    for _ in range(3):  # "APAC, not Europe, no enterprise": each negation read, the words after one included
        before, words = words, " ".join(EXCLUDED.sub(other_values, words).split())
        if words == before:
            break
    return words


THRESHOLD = re.compile(r"\b(?:than|vs\.?|versus|above|below|over|under|at least|at most|beat|beats|hit|hits|reach|reaches|"
                       r"exceeds?|exceeding)\s+(?:the\s+)?~?(\d{1,3}(?:\.\d+)?)\s*(?:%|percent\b|pct\b)")


def _negated_period(words: str, vocab: Vocabulary) -> str:
    """The words of a negation that names a period ("except for q1", "excluding last month"), or ""."""
    for m in EXCLUDED.finditer(words):
        what = (m.group("what") or "").split()
        for n in (3, 2, 1):
            q = parse(" ".join(what[:n]), vocab)
            if len(what) >= n and not q.problems and q.query.period is not None and not q.query.filters:
                return m.group(0)[:m.start("what") - m.start()] + " ".join(what[:n])
    return ""


def _us_region(text: str, vocab: Vocabulary) -> str:
    """"us saas win rate": "us" opening the question before a segment or a metric is the region, written in
    lower case; anywhere else ("tell us", "how are we doing for us") it stays the pronoun."""
    m = re.match(r"\s*us\s+([\w&-]+)", text)
    if m is None or not parse("US", vocab).query.filters:
        return text
    after = m.group(1)
    if re.fullmatch(r"win|wr|winrate|deals?|pipeline|pipe", after, re.IGNORECASE) or (
            parse(after, vocab).ok and parse(after, vocab).query.filters):
        return text[:m.start()] + re.sub(r"us", "US", text[m.start():m.end()], count=1) + text[m.end():]
    return text


TITLE = re.compile(r"\b(?:(?P<before>[\w&-]+(?: [\w&-]+)?) (?:vp|svp|rvp|avp|director|head|lead|leader|manager|gm)"
                   r"|(?:vp|svp|rvp|avp|director|head|lead|leader|manager|gm)(?: of| for)? (?:the )?(?P<after>[\w&-]+(?: [\w&-]+)?))"
                   r"(?=\s*(?:here\b|speaking\b|[:—–,-]))", re.IGNORECASE)


def _title_segment(text: str, vocab: Vocabulary) -> str | None:
    """The segment a title names ("APAC VP here:", "new VP Europe:", "head of EMEA,"), or None."""
    for m in TITLE.finditer(text):
        said = (m.group("before") or m.group("after")).split()
        for words in (said, said[-1:], said[:1]):  # "new APAC VP": APAC; "VP Europe sales": Europe
            named = parse(" ".join(words), vocab)
            if words and not named.problems and len(named.query.filters) == 1 and not named.query.period:
                return " ".join(words)
    return None


def _mine_named(text: str, vocab: Vocabulary) -> str:
    """"I run the APAC team. How did my region do?": "my region" is APAC when the message says whose it is; so is
    "my win rate" after a title that names a segment ("APAC VP here: my win rate by vertical")."""
    mine = MINE.search(text)
    if mine:
        named = parse(mine.group("what"), vocab)
        if MY_SEGMENT.search(text) and not named.problems and len(named.query.filters) == 1:
            return MY_SEGMENT.sub(mine.group("what"), text)
        return text
    titled = _title_segment(text, vocab)
    if titled is None or not re.search(r"\bmy\b", text, re.IGNORECASE):
        return text
    return re.sub(r"\bmy\b", f"{titled}'s", MY_SEGMENT.sub(titled, text), flags=re.IGNORECASE)


def _without_context(text: str, vocab: Vocabulary, as_of: dt.date) -> str:
    """The message without its context: a sentence or opening clause that matches no analysis, names no
    period, split or comparison, and names no segment the rest does not ("I'm prepping for the board on Thursday.", "Our Partner
    program is up for renewal next month."), when the rest asks something an analysis answers."""
    units = [u for u in SENTENCES.split(text.strip()) if u]
    opening = PREAMBLE.match(units[0]) if units else None
    if opening and opening.end() < len(units[0]):
        units[:1] = [opening.group(1), units[0][opening.end():]]
    if len(units) < 2:
        return text

    def named(unit: str) -> tuple[set, bool]:
        q = parse(rewrite(unit, as_of), vocab).query
        return {v for _, values in q.filters for v in values}, bool(q.period or q.compare or q.group_by or q.grain)

    def context(i: int) -> bool:
        unit = units[i]
        if unit.rstrip().endswith("?") or commands_matching(rewrite(unit, as_of)):
            return False
        values, shaped = named(unit)
        rest = set().union(*(named(u)[0] for j, u in enumerate(units) if j != i))
        segment_like = any(w in SEGMENT_LIKE or norm(w) in NEAREST_VALUES for w in rewrite(unit, as_of).split())
        return not shaped and values <= rest and (rest or not segment_like)  # "Retail is new. How is it doing?"

    original = list(units)
    for i, unit in enumerate(units):  # "We changed pricing in Q1. How has it looked since then?": since Q1
        then = THEN.search(unit)
        earlier = [j for j in range(i) if parse(rewrite(units[j], as_of), vocab).query.period is not None] if then else []
        if earlier:
            period = parse(rewrite(units[earlier[-1]], as_of), vocab).query.period
            units[i] = THEN.sub(f"since {period.text}", unit)
            if not commands_matching(rewrite(units[earlier[-1]], as_of)):
                units[earlier[-1]] = ""  # the sentence only said when; its period is now the question's
    resolved_then = any(THEN.search(u) for u in original) and not any(THEN.search(u) for u in units)
    units = [u for u in units if u]
    kept = [u for i, u in enumerate(units) if not context(i)]
    if not kept or len(kept) == len(units) or not commands_matching(rewrite(" ".join(kept), as_of)):
        return " ".join(units) if resolved_then else text
    return " ".join(kept)


# A template's stand-ins ("is X better than Y", "<region>", "[industry]"): a capital X, Y or Z alone, unless it joins
# two dimensions ("region X industry" is both).
PLACEHOLDER = re.compile(r"(?<![\w=/<\[{-])[XYZ](?![\w=/>\]}-])|<[a-z _-]+>|\[[a-z _-]+\]|\{[a-z _-]+\}")
PLACEHOLDER_CHOICES = ("/winrate by region", "/winrate by product_type", "/winrate by lead_source")


HALVES = re.compile(r"\b(h[12]|(first|second|1st|2nd) half)\b.*\b(vs\.?|versus|against|compared (to|with)|to|and|or)\b.*"
                    r"\b(h[12]|(first|second|1st|2nd) half)\b", re.IGNORECASE)
A_YEAR = re.compile(r"\b(\d{4}|'\d\d|this year|last year|(this|last|previous|prior) half|ytd|fy ?\d+)\b", re.IGNORECASE)


def _halves_without_a_year(text: str, vocab: Vocabulary, as_of: dt.date) -> Intent | None:
    """"H1 vs H2" with no year: this year's first half against last year's second (the latest two), or last year's two
    halves; asked back with both as buttons. None when a year is named or no two halves are."""
    named = {("h1" if w.lower() in ("h1", "first half", "1st half") else "h2") for w, _ in
             re.findall(r"\b(h[12]|(?:first|second|1st|2nd) half)\b()", text, flags=re.IGNORECASE)}
    if not HALVES.search(text) or A_YEAR.search(text) or named != {"h1", "h2"}:
        return None
    year = as_of.year

    def dated(first: int, second: int) -> Request:
        def one(m: re.Match) -> str:
            half = "h1" if m.group(0).lower() in ("h1", "first half", "1st half") else "h2"
            return f"{half} {first if half == 'h1' else second}"
        return interpret(re.sub(r"\b(h[12]|(first|second|1st|2nd) half)\b", one, text, flags=re.IGNORECASE), vocab,
                         as_of).request
    readings = tuple(r for r in dict.fromkeys((dated(year, year - 1), dated(year - 1, year - 1))) if r.command != "unknown")
    return Intent(UNKNOWN, (), choices=readings, note=f"“H1” and “H2” without a year could be {year}'s first half "
                  f"against {year - 1}'s second (the latest two) or {year - 1}'s two halves.")


MY_NUMBERS = re.compile(r"\bmy (win ?rates?|winrate|close rates?|conversion|deals|opps|opportunities|pipeline|pipe|numbers?"
                        r"|book|forecast)\b")


def _whose(words: str, text: str, args: str, vocab: Vocabulary, as_of: dt.date) -> Intent | None:
    """"why is my win rate down", "which of my deals will close": whose? Asked back, the team's reading first, when the
    message names no segment or rep ("APAC VP here: my win rate by vertical" names APAC); else None."""
    if not MY_NUMBERS.search(words) or parse(args, vocab).query.filters:
        return None
    ours = interpret(re.sub(r"\bmy\b", "our", text, flags=re.IGNORECASE), vocab, as_of)
    readings = (ours.request,) if ours.understood and not ours.choices else ours.choices[:2]
    return Intent(UNKNOWN, (), choices=tuple(dict.fromkeys(readings + _asked(("/reps",)))), note=(
        "I can't tell whose “my” is: the data links no one to a rep, region or team. Name it (“APAC's win rate”, "
        "“rep_7's deals”), or pick the team's:"))


def _placeholder(text: str) -> bool:
    """Whether a question holds a stand-in for a segment rather than the segment ("is X better than Y")."""
    for m in PLACEHOLDER.finditer(text):
        before, after = text[:m.start()].split()[-1:], text[m.end():].split()[:1]
        if m.group(0) in "XYZ" and before and after and all(
                w.casefold() in DIMENSION_ALIASES or w.casefold() in SPLIT_NOUNS for w in before + after):
            continue  # "region X industry": by both
        return True
    return False


def _outside_data(command: str, query: Query, vocab: Vocabulary, as_of: dt.date) -> str:
    """Why a period named outright holds no deals to answer with ("" when it does): it ends before the first
    closed deal, or starts after the data's last day (for the forecast: after the next quarter, its horizon)."""
    if command in ("help", "digest", "health"):
        return ""
    for spec in (query.period, query.compare):
        if spec is None or spec.kind not in ("calendar", "range"):
            continue
        span = resolve(spec, as_of, vocab.first_day)
        if span is None:
            continue
        if command == "pipeline":
            horizon = add_months(grain_start(as_of, "quarter"), 6) - dt.timedelta(days=1)
            if span.start > horizon:
                return (f"The forecast covers this quarter and the next (to {horizon.isoformat()}); "
                        f"{span.label} is beyond it.")
            continue
        if span.start > as_of:
            return f"No deals have closed in {span.label} yet: the data runs to {as_of.isoformat()}."
        if vocab.first_day is not None and span.end < vocab.first_day:
            return (f"No deals closed in {span.label}: the data's closed deals run from {vocab.first_day.isoformat()} "
                    f"to {as_of.isoformat()}.")
    return ""


# A segment named outright with its kind ("the medical devices vertical", "our LATAM region") whose words are no
# value of that dimension: the data does not hold it, so it is asked back, naming the values it does hold.
NAMED_SEGMENT = re.compile(r"\b(?:the|our) ((?:[a-z][\w&-]* ){1,3})(verticals?|industr(?:y|ies)|sectors?|regions?|territor(?:y|ies)"
                           r"|geos?|product lines?)\b")
SEGMENT_KINDS = {"vertical": "industry", "industr": "industry", "sector": "industry", "region": "region",
                 "territor": "region", "geo": "region", "product line": "product_type"}
GENERIC_WORDS = frozenset("""same whole entire each every other another best worst top bottom weakest strongest biggest
largest smallest new old main big small given one specific particular overall different which what that this those these
key core home target your their its my our own single top-performing worst-performing""".split())


def _segment_not_in_data(words: str, vocab: Vocabulary) -> tuple[str, str] | None:
    """The note and dimension when a segment named with its kind is not in the data ("" when it is, or is generic)."""
    for m in NAMED_SEGMENT.finditer(words):
        named = m.group(1).split()
        if GENERIC_WORDS.intersection(named) or any(w in KNOWN_WORDS or w in MONTHS for w in named):
            continue
        dim = next(d for k, d in SEGMENT_KINDS.items() if m.group(2).startswith(k))
        parsed = parse(" ".join(named), vocab)
        if dim not in vocab.values or parsed.query.filters or parsed.query.period or parsed.query.group_by \
                or len(parsed.problems) < len(named):
            continue
        kind = dim.replace("product_type", "product")
        return (f"The data has no “{' '.join(named)}” {kind}: its {kind} values are "
                f"{', '.join(vocab.values[dim])}.", dim)
    return None


def _against_itself(query: Query | None, as_of: dt.date) -> bool:
    """Whether a reading compares a period with the very same dates (a comparison misread, never meant)."""
    if query is None or query.period is None or query.compare is None or query.compare.kind in ("previous", "year_ago"):
        return False
    now, other = resolve(query.period, as_of), resolve(query.compare, as_of)
    return now is not None and other is not None and (now.start, now.end) == (other.start, other.end)


# A change to alert rules or follows asked in words, read into the exact command, which is offered (one click
# to confirm), never run from the sentence: "remove alert 3", "mute follow 1 for a week", "alert me if APAC drops
# below 35%", "send me the APAC win rate every week in DM".
CHANGE_ONE = re.compile(r"\b(?P<verb>remove|delete|stop|drop|cancel|kill|disable|unfollow|mute|snooze|pause|silence)\b"
                        r"(?: (?:my|the|this|that))? (?P<what>alert|follow|subscription)(?:s|ing)?(?: rule)?"
                        r"(?: (?:number|no\.?|#))? ?#?(?P<n>\d+)\b(?:.*?\bfor (?P<count>a|an|one|\d+) (?P<unit>day|week)s?\b)?")
UNFOLLOW = re.compile(r"\bunfollow (?:(?:number|no\.?) )?#?(?P<n>\d+)\b")
ALERT_BELOW = re.compile(r"\b(?:alert|notify|warn|ping|tell|let)\b.*?\b(?:if|when|once)\b(?P<what>.*?)\b(?:drops?|falls?|goes|gets|dips?)"
                         r"(?: down)? (?:below|under) (?P<pct>\d+)(?:%| ?percent\b)?(?![\d.]| ?k\b)")
SCHEDULE = re.compile(r"\b(?:every|each) (?:day|morning|evening|weekday)\b|\bdaily\b"
                      r"|\b(?P<weekly>(?:every|each) (?:week|monday|tuesday|wednesday|thursday|friday)|weekly)\b")
PRIVATE = re.compile(r"\b((by|via|in|as|over) (a )?)?(dm|dms|direct message|private message)\b|\bprivately\b|\bin private\b")


def _change_line(words: str, vocab: Vocabulary, as_of: dt.date) -> str | None:
    """The command a change to an alert rule or a follow asked in words means, when it is plain; else None."""
    one = CHANGE_ONE.search(words) or UNFOLLOW.search(words)
    if one:
        kind = "follow" if one.groupdict().get("what") in (None, "follow", "subscription") else "alerts"
        if one.groupdict().get("verb") in ("mute", "snooze", "pause", "silence"):
            count = one.group("count") or "1"
            days = (1 if count in ("a", "an", "one") else int(count)) * (7 if (one.group("unit") or "week") == "week" else 1)
            return f"/{kind} mute {one.group('n')} {days}d"
        return f"/{kind} remove {one.group('n')}"
    below = ALERT_BELOW.search(words)
    if below:
        q = parse(_arguments(below.group("what"), vocab)[0], vocab).query
        filters = query_text(Query(filters=q.filters))
        return f"/alerts add winrate {filters} below {below.group('pct')}%".replace("  ", " ")
    if re.search(r"\b(alert|notify|warn|ping|flag|let (me|us) know|tell (me|us))\b", words):
        filters = query_text(Query(filters=parse(_arguments(words, vocab)[0], vocab).query.filters))
        gap = re.search(r"\bgap\b.*?\b(\d+) ?(pp|points?|percentage points?)\b", words)
        big = re.search(r"\b(open )?deals? (\w+ ){0,2}(over|above|bigger than|larger than) \$?(\d+)k\b", words)
        if gap:
            return f"/alerts add gap {gap.group(1)}pp"
        if re.search(r"\bdrivers? (flips?|flipped|changes? sign|reverses?)\b", words):
            return "/alerts add driver-flip"
        if re.search(r"\blong[- ]cycles?\b|\b(runs?|running|drags?|dragging|takes?|taking) (on )?(too long|forever)\b", words):
            return "/alerts add long-cycle"
        if big:
            kept = query_text(Query(filters=tuple((d, v) for d, v in parse(_arguments(words, vocab)[0], vocab).query.filters
                                                  if d != "size_band")))  # "big deal over 300k": the amount says the size
            return re.sub(r"\s+", " ", f"/alerts add big-deal {kept} above {big.group(4)}k")
        if re.search(r"\b(drop|drops|dropping|falls?|declines?|dips?)\b", words) and "%" not in words:
            return f"/alerts add drop {filters}".strip()
    when = SCHEDULE.search(words)
    if when and re.search(r"^follow\b|\b(send|post|dm|share|receive|get|subscribe|deliver|ping|message)\b", words):
        rest = PRIVATE.sub(" ", SCHEDULE.sub(" ", words))
        rest = re.sub(r"^follow\b|\b(send|post|dm|share|receive|get|subscribe|deliver|ping|message|with|me|us|this channel|into|to"
                      r"|here|report|table"
                      r"|i want to|could you|can you|please)\b", " ", rest)
        command = command_of(rest)
        if command is None or command in ("help", "digest", "health"):
            return None
        question = _shaped(command, rest, _arguments(rest, vocab)[0], vocab, as_of)
        if question.query is None:
            return None
        frequency = "weekly" if when.group("weekly") else "daily"
        to_me = re.search(r"\b(send|ping|message|email|text) me\b", words) and not re.search(r"\b(here|this channel)\b", words)
        return f"/follow {question.line} {frequency}" + (" dm" if PRIVATE.search(words) or to_me else "")
    return None


def _management(words: str, vocab: Vocabulary, as_of: dt.date) -> Intent | None:
    """Help with a command, a list of alert rules or follows, or a request to change them (asked back, with
    the exact command first when the request is plain)."""
    for pattern in HELP_WITH:
        helped = pattern.search(words)
        found = helped.groupdict() if helped else {}
        name = found.get("name") or found.get("name2") or found.get("name3") or found.get("name4") or ""
        name = name[:-1] if name not in HELP_TOPICS and name.endswith("s") and name[:-1] in HELP_TOPICS else name  # "trends"
        topic = "alerts" if name in ("alert", "alerts") else "follow" if name.startswith(("follow", "subscri")) else name
        if topic in HELP_TOPICS:
            return Intent(Request("help", f"/help {topic}"))
    for pattern, line in LISTING:
        if pattern.search(words):
            return Intent(Request(split_command(line)[0], line))
    if MANAGING.search(words):
        exact = _change_line(words, vocab, as_of)
        helps = ("/help follow", "/help alerts") if exact and exact.startswith("/follow") else ("/help alerts", "/help follow")
        return Intent(UNKNOWN, (), choices=_asked(((exact,) if exact else ()) + helps))
    return None


# The readings nearest to a question no analysis answers, by its subject: the first that matches, in order.
NEAREST_READINGS = tuple((re.compile(pattern) if isinstance(pattern, str) else pattern, readings) for pattern, readings in (
    (r"\bdeal (id |number |no\.? |#)?d?\d{4,}\b|\bd\d{5,}\b|\b(the|that|this) (\w+ )?deal\b",
     ("/deals lost", "/why", "/funnel")),  # one deal: the deals lost, and why the rate moved
    (r"\b(pipeline|pipe|opportunities|opps) (generated|created|added|built|sourced)\b",
     ("/pipeline", "/deals open", "/trend")),
    (r"\b(stop|cancel|unsubscribe|turn off|end)\b",
     ("/follow list", "/help follow", "/digest")),  # which follow? the list says, with its number
    (r"\bwin ?rates?\b.*\blost\b", ("/deals lost", "/funnel", "/winrate")),
    (r"\bdemos\b|\b(mqls?|sqls?|leads|webinars?)\b", ("/funnel", "/trend", "/winrate by lead_source")),
    (r"\bmargins?\b|\bprofit\w*\b|\bcogs\b", ("/deals won", "/winrate by product_type", "/trend")),
    (r"\breasons?\b", ("/why", "/deals lost", "/funnel")),
    (r"\b(stages?|steps?)\b", ("/funnel", "/why", "/deals lost")),
    (r"\b(coverage|commit|best[- ]case|forecast categor\w*)\b", ("/pipeline", "/deals open", "/trend")),
    (r"\b(spend|spent|spending)\b", ("/winrate by lead_source", "/deals won", "/trend")),
    (r"\brenew\w*\b", ("/deals won", "/winrate", "/trend")),
    (r"\b(reps?|managers?|quota|headcount|team)\b", ("/reps", "/winrate by region", "/trend")),
    (TARGETS, ("/pipeline", "/reps", "/trend")),
    (r"\b(size|amount|value|acv|arr|mrr)\b", ("/winrate by size_band", "/pipeline", "/deals won")),
    (r"\b(forecast\w*|revenue|bookings|retention|nrr|expansion|upsell\w*)\b", ("/pipeline", "/deals won", "/trend")),
))
WHICH_AT = 6  # "the big region", "the new product" (split by that dimension) is tried after the first six
WHICH_SEGMENT = re.compile(r"\bthe (big|main|biggest|largest|small|smallest|new|old) (region|industry|vertical|product|"
                           r"source|channel)\b|\bnew (product)s?\b")


def _closest_readings(words: str) -> tuple[str, ...]:
    """What the analyses can answer nearest to a question they cannot: by its subject."""
    for i, (pattern, readings) in enumerate(NEAREST_READINGS):
        if i == WHICH_AT and (which := WHICH_SEGMENT.search(words)):
            dim = SPLIT_NOUNS.get(which.group(2) or which.group(3), "region")
            return (f"/winrate by {dim}", "/trend", "/risk")
        if pattern.search(words):
            return readings
    return UNSURE_CHOICES


# What each command takes from a question; the rest is left out of its reading.
USES = {"winrate": {"filters", "by", "period", "vs"}, "trend": {"filters", "period", "grain"},
        "risk": {"filters", "by", "period", "limit"}, "funnel": {"filters", "by", "period"},
        "why": {"filters", "period", "vs"}, "drivers": {"filters", "period"}, "reps": {"filters", "by", "period", "limit"},
        "deals": {"filters", "period", "outcome", "limit"}, "pipeline": {"filters", "by"}}


def _shaped(command: str, words: str, args: str, vocab: Vocabulary, as_of: dt.date) -> Request:
    """The request as the command needs it: what it does not take left out, and what the question
    implies (a split for "which regions", a comparison's split, the outcome of the deals listed) added."""
    if command in ("help", "digest", "health"):
        return _request(command, None, "")
    parsed = parse(args, vocab)
    if not parsed.ok:
        return _request(command, None, args)
    q = parsed.query
    if q.period is not None and q.compare is not None and q.period.kind == q.compare.kind in ("calendar", "range"):
        now, other = resolve(q.period, as_of), resolve(q.compare, as_of)
        if other is not None and now is not None and other.start > now.start:  # "compare Q1 and Q2": Q2 is asked about
            q = dataclasses.replace(q, period=q.compare, compare=q.period)
    if command == "trend" and q.compare is not None:  # "how did APAC do vs last year": a tested change
        command = "winrate"
    if command == "trend" and " vs " in f" {words} " and any(d in q.group_by and len(v) > 1 for d, v in q.filters):
        command = "winrate"  # "is partner really better than outbound or is it noise": the two, tested
    if command == "trend" and (COMPARATIVE.search(words) or re.search(r"\b(better|worse|stronger|weaker)\b.*\bor\b", words)) \
            and any(len(v) > 1 for _, v in q.filters):
        command = "winrate"  # "rep_3 and rep_8: who is closing better": the two side by side
    each = SPLIT_ASK.search(words)
    if command == "trend" and q.grain is None and each and each.group(1) in ("each", "every"):
        command = "winrate"  # "how did each region do in Q1": the rates side by side (the trend takes no split)
    if command == "trend" and OTHERS.search(words):  # "how is APAC doing against the rest": side by side
        command = "winrate"
    if command == "reps" and " vs " in f" {words} " and any(d == REP and len(v) > 1 for d, v in q.filters):
        command = "winrate"  # "rep 5 vs rep 9 win rate": the two side by side
    subject = re.search(r"\b(?:does|do|did) (?:the |our )?(\w+(?: \w+)?) (?:deals|opps|opportunities) (?:really |actually )?"
                        r"(?:predict|drive|affect|influence|help|hurt)\w*\b|\b(?:does|do|did) being (?:an? )?(\w+(?: \w+)?)|\b(?:effects?|impacts?|influence) of (?:being )?"
                        r"(?:an? |the )?(\w+(?: \w+)?) (?:on|for)\b", words)
    if command == "drivers" and subject:  # "does being inbound help win rate": lead source's effect, over every deal
        named = parse(next(g for g in subject.groups() if g), vocab).query.filter_dict
        q = dataclasses.replace(q, filters=tuple((d, v) for d, v in q.filters if d not in named))
    if command == "drivers" and re.search(r"\b(whether|if|matters?|difference)\b", words):
        # "does it matter whether the lead came inbound vs outbound": that dimension's effect, over every deal
        q = dataclasses.replace(q, filters=tuple((d, v) for d, v in q.filters if len(v) == 1))
    if command == "risk" and re.search(r"\b(combos?|combinations?|intersections?|pairs?|cross-sections?)\b", words):
        q = dataclasses.replace(q, group_by=())  # "which combos of region and product": the risk's own combinations
    if command == "reps" and RATE_ASKED.search(words) and [len(v) for d, v in q.filters if d == REP] == [1] \
            and not re.search(r"\b(reps|aes|sellers|salespeople|team|leaderboard|rank\w*|peers|others|rest)\b", words) \
            and not (" vs " in f" {words} " and q.compare is None):
        command = "winrate"  # "rep 7 close rate last quarter": that rep's rate, not the table of reps
    if command == "drivers" and q.compare is not None:  # "what moved the needle in Q1 vs Q4": the change
        command = "why"
    if command == "winrate" and q.grain is not None and q.compare is None:  # "win rate by month": over time
        command = "trend"
    if command == "trend" and q.period is not None and q.period.kind == "all" and q.compare is None \
            and not re.search(r"\bever\b|\bhistory\b", words):  # "which quarter was our best ever" keeps every quarter
        q = dataclasses.replace(q, period=None)  # "the trend since we started tracking": the trend's own span, all of it
    if command == "trend" and re.search(r"\b(always|every year|each year|usually|typically|normally)\b", words):
        q = dataclasses.replace(q, period=None)  # "is q2 always weak": every quarter, to see each Q2 among them
    if command == "why" and q.grain is not None and q.compare is None:  # "why … quarter over quarter"
        q = dataclasses.replace(q, compare=PeriodSpec("previous", (), "previous period"))
    if command == "reps" and re.search(r"\bpipeline\b|\bopen (deals|opportunities|opps)\b", words):
        command = "pipeline"  # "which of my reps has the most open pipeline": the forecast by rep
        q = dataclasses.replace(q, group_by=q.group_by or ((REP,) if REP in vocab.values else ()))
    if command == "funnel":  # the funnel is by stage already; stages and "cycle gap" are its subject
        q = dataclasses.replace(q, group_by=tuple(d for d in q.group_by if d not in ("deal_stage", "cycle_band")),
                                filters=tuple((d, v) for d, v in q.filters if d != "deal_stage"))
    if command == "deals" and q.outcome is None:
        q = dataclasses.replace(q, outcome=_outcome_of(words))
    if command == "deals" and q.outcome is None and any(d == "deal_stage" and set(v) <= OPEN_STAGES for d, v in q.filters):
        q = dataclasses.replace(q, outcome="open")  # "deals in proposal stage": a deal in an open stage is open
    uses = USES[command]  # the pipeline's forecast covers this quarter and the next: no period of its own
    q = dataclasses.replace(q, group_by=q.group_by if "by" in uses else (), period=q.period if "period" in uses else None,
                            compare=q.compare if "vs" in uses else None, grain=q.grain if "grain" in uses else None,
                            outcome=q.outcome if "outcome" in uses else None)
    split = SPLIT_ASK.search(words)
    combos = command == "risk" and re.search(r"\b(combos?|combinations?|intersections?|pairs?|cross-sections?)\b", words)
    if split and not q.group_by and not combos and command in ("winrate", "risk", "reps", "pipeline", "funnel"):
        noun = re.sub(r"(ies|s)$", lambda m: "y" if m.group(1) == "ies" else "", split.group(3))
        dim = SPLIT_NOUNS.get(noun) or SPLIT_NOUNS.get(split.group(3))
        if dim in vocab.values:
            q = dataclasses.replace(q, group_by=(dim,))
    if command == "pipeline" and not q.group_by and REP in vocab.values and re.search(
            r"^who\b|\b(which|each|every|per|by) (reps?|sellers?|aes?|salespeople|sales ?reps?)\b", words):
        q = dataclasses.replace(q, group_by=(REP,))  # "who has the biggest pipeline": the pipeline by rep
    if OTHERS.search(words) and not q.group_by and q.filters and command in ("winrate", "risk", "reps"):
        q = dataclasses.replace(q, group_by=(q.filters[0][0],))  # "APAC against the rest": by region
    if OTHERS.search(words) and q.group_by:  # "APAC against the other regions": every region side by side
        q = dataclasses.replace(q, filters=tuple((d, v) for d, v in q.filters if d not in q.group_by))
    if command == "winrate" and not q.group_by and len(q.filters) == 1 and len(q.filters[0][1]) == 1 \
            and ACROSS.search(words) and not re.search(r"\b(than|vs|others|rest)\b", words) and not RATE_ASKED.search(words):
        q = dataclasses.replace(q, filters=(), group_by=(q.filters[0][0],))  # "do big deals close less often": by size
    if command == "winrate" and not q.group_by and not POOLED.search(words):  # two values of one dimension: side by side
        several = [d for d, values in q.filters if len(values) > 1]
        if len(several) == 1:
            q = dataclasses.replace(q, group_by=(several[0],))
    if command == "reps" and REP in q.group_by and len(q.group_by) > 1:  # "reps by region": /reps is by rep already
        q = dataclasses.replace(q, group_by=tuple(d for d in q.group_by if d != REP))
    if command == "reps" and LUCK.search(words):  # luck is judged against every rep
        q = dataclasses.replace(q, filters=tuple((d, v) for d, v in q.filters if d != REP))
    if command == "reps" and not q.group_by and re.search(
            r"\b(reps?|aes?|sellers?|salespeople|sales people|leaderboard|performers?|scorecard|attainment|quota)\b",
            words):
        q = dataclasses.replace(q, group_by=(REP,) if REP in vocab.values else ())
    return _with_text(command, q)


def _span_text(span, vocab: Vocabulary, as_of: dt.date) -> str:
    """A period's dates as the grammar reads them: its label ("2023", "2024Q2") when that reads back as the same
    dates, else the range."""
    again = parse(span.label, vocab).query.period if span.label else None
    same = again is not None and again.kind == "calendar" and resolve(again, as_of) is not None and \
        (resolve(again, as_of).start, resolve(again, as_of).end) == (span.start, span.end)
    return span.label if same else f"{span.start}..{span.end}"


def _two_periods(args: str, vocab: Vocabulary, as_of: dt.date) -> tuple[str, ...]:
    """The readings of words naming two periods outside a comparison ("2024q2 … last year"): the first, the first
    against the second (as its dates, so "last year" is not read as the same period a year before), the second."""
    parsed = parse(args, vocab)
    two = [p for p in parsed.problems if p.kind == "two_periods"]
    if not two or len(two) != len(parsed.problems):
        return ()
    q = parsed.query
    second = parse(two[0].word, vocab).query.period
    if second is None:
        return ()
    readings = [query_text(q)]
    first_span, second_span = resolve(q.period, as_of), resolve(second, as_of)
    if q.compare is None and first_span is not None and second_span is not None and not first_span.overlaps(second_span):
        later, earlier = (first_span, second_span) if first_span.start > second_span.start else (second_span, first_span)
        readings.append(f"{query_text(dataclasses.replace(q, period=None))} {_span_text(later, vocab, as_of)} vs "
                        f"{_span_text(earlier, vocab, as_of)}".strip())
    readings.append(query_text(dataclasses.replace(q, period=second)))
    return tuple(readings)


def _with_text(command: str, query: Query) -> Request:
    """The request for a Query the intent layer built: its text is the command line's arguments, as the
    grammar reads them back (tests/unit/test_intents.py holds the round trip)."""
    text = query_text(query)
    return _request(command, dataclasses.replace(query, text=text), text)


def _outcome_of(words: str) -> str | None:
    if re.search(r"\b(lost|lose|losing|losses)\b|\b(did we|we) drop(ped)?\b|\b(deals|opps|opportunities) (that |which )?died\b",
                 words):
        return "lost"
    if re.search(r"\bbook(ed|ings?)?\b", words):
        return "won"
    if re.search(r"\b(won|win|wins|winning)\b", words) and not re.search(r"\bwin rate\b", words):
        return "won"
    if re.search(r"\bopen\b", words):
        return "open"
    return None


def sentence_arguments(text: str, vocab: Vocabulary, as_of: dt.date) -> str:
    """A sentence typed after a command ("/why did our win rate drop in APAC?") in the grammar's words."""
    return _arguments(rewrite(text, as_of), vocab, keep_unknown=True)[0]


def _proper_nouns(text: str) -> frozenset[str]:
    """Capitalised words inside a sentence ("how is Retail doing"): names, kept even when unknown."""
    return frozenset(m.group(0).casefold() for m in re.finditer(r"(?<=[a-z,] )[A-Z][A-Za-z]+", text))


def _arguments(words: str, vocab: Vocabulary, names: frozenset[str] = frozenset(),
               keep_unknown: bool = False) -> tuple[str, tuple[str, ...]]:
    """The grammar's words of a question: words it cannot place are dropped unless they look like a
    segment the data does not have (a known segment-like word, a word after "in"/"for", or a near-miss
    of a known value; after a slash command, any word that is not a sentence word); what is left is written back from the parsed Query, or kept as typed when
    something in it is unknown (so the reply can name it and suggest the closest values)."""
    words = _segment_versus(_value_typos_fixed(words, vocab), vocab)
    known_reps = vocab.values.get(REP, ())  # "rep 30" the data does not have: kept as rep_30, so the reply names it
    words = re.sub(r"\b(?:rep|seller|ae)[ #]+(\d{1,3})\b", lambda m: m.group(0) if f"rep_{m.group(1)}" in known_reps
                   else f"rep_{m.group(1)}", words)
    tokens = words.split()  # "close" is a verb here, not the stage named Closed
    # "NA's lost deals": the possessive of a value or alias the grammar knows is that value, never a word to drop
    tokens = [w[:-2] if w.endswith("'s") and vocab.index.get(norm(w[:-2])) else w for w in tokens]
    tokens = [w for i, w in enumerate(tokens) if not (w in CLOSE_WORDS and (i == 0 or tokens[i - 1] != "stage"))]
    tokens = ["+" if w == "plus" and _values_around(tokens, i, vocab) else w for i, w in enumerate(tokens)]
    words = " ".join(tokens)
    parsed = parse(words, vocab)
    unknown = {p.word.casefold() for p in parsed.problems if p.kind == "unknown_word"}
    kept = {w for w in unknown if (w not in SENTENCE_WORDS if keep_unknown else
                                   _looks_like_segment(w, tokens, vocab, names))}
    drop = unknown - kept
    kept = " ".join(w for w in tokens if w.casefold() not in drop)
    again = parse(kept, vocab)
    return (query_text(again.query) if again.ok else kept), tuple(sorted(drop))


def _value_typos_fixed(words: str, vocab: Vocabulary) -> str:
    """The words with each one the grammar cannot place and that is one slip from a known value
    ("eurpoe", "indai") spelt as the value."""
    unknown = {p.word.casefold() for p in parse(words, vocab).problems if p.kind == "unknown_word"}
    fixed = {w: _value_typo(w, vocab) for w in unknown}
    return " ".join(fixed.get(w) or w for w in words.split()) if any(fixed.values()) else words


def _values_around(tokens: list[str], i: int, vocab: Vocabulary) -> bool:
    """Whether tokens[i] stands between two known values ("APAC plus India": both, pooled; "Pro Plus" is a
    product name the data may not have, named back)."""
    if not 0 < i < len(tokens) - 1:
        return False

    def value(words: list[str]) -> bool:
        return bool(vocab.match(norm("".join(words)), allow_prefix=False))

    left = value(tokens[i - 1:i]) or (i >= 2 and value(tokens[i - 2:i]))
    return left and (value(tokens[i + 1:i + 2]) or value(tokens[i + 1:i + 3]))


def _value_typo(word: str, vocab: Vocabulary) -> str | None:
    """The word of a known value that `word` is one slip away from (two letters swapped, one left out,
    one added, or one changed in a long word): "eurpoe" -> "europe", "fintec" -> "fintech". Only words
    of five letters or more, never a word the rules know, and only when exactly one value is that close."""
    if len(word) < 5 or not word.isalpha() or word in SENTENCE_WORDS or word in KEYWORDS or word in KNOWN_WORDS \
            or word in CLOSE_WORDS or word in SEGMENT_LIKE:
        return None
    targets = {t for d, values in vocab.values.items() if d != REP for v in values
               for t in [norm(v), *v.casefold().split()] if len(t) >= 5 and t.isalpha() and t not in CLOSE_WORDS}
    close = {t for t in targets if t != word and t[0] == word[0] and (
        _one_swap(t, word) or _one_dropped(t, word) or _one_dropped(word, t)
        or (len(word) >= 6 and len(t) == len(word) and sum(a != b for a, b in zip(t, word)) == 1))}
    return close.pop() if len(close) == 1 else None


def _looks_like_segment(word: str, tokens: list[str], vocab: Vocabulary, names: frozenset[str]) -> bool:
    if word in SENTENCE_WORDS:
        return False
    at = [i for i, t in enumerate(tokens) if t.casefold() == word]
    if at and all(i > 0 and _owned(tokens[i - 1], vocab) for i in at):
        return False  # "the team's energy", "next year's marketing budget": something of theirs, not a segment
    if AMOUNT.fullmatch(word) or word in ("million", "millions", "mil", "mm", "billion"):
        return True
    if word.isdigit() and any(i > 0 and tokens[i - 1].casefold() in BOUND_WORDS and i + 1 < len(tokens)
                              and tokens[i + 1].casefold() in UNIT_WORDS for i in at):
        return True  # "in under 2 weeks", "longer than 6 months": a bound no band has is named back, never dropped  # "over 30k", "30k-50k": an amount that is no band's edge is named back, never dropped
    if word.isalpha() and word not in QUANTIFIERS and any(i > 0 and tokens[i - 1].casefold() in PERIOD_STARTS for i in at):
        return True  # "last semester", "this sprint": a period the grammar does not know is named, never dropped
    if word in names or word in SEGMENT_LIKE or norm(word) in NEAREST_VALUES:
        return True
    if any(i > 0 and (tokens[i - 1] == "since" or (i > 1 and tokens[i - 1] == "the" and tokens[i - 2] == "since")) for i in at):
        return True  # "since the reorg": when was that? named back, never answered over all time
    if word in MONTHS and word != "may":
        return True  # "through June": a month the grammar did not place is named back, never dropped
    key = norm(word)
    if len(key) >= 4 and difflib.get_close_matches(key, [k for k in vocab.index if k[:1] == key[:1]], n=1, cutoff=0.7):
        return True  # a near-miss of a known value ("europ", "fintec"): name it, suggest the value
    return any(i > 0 and tokens[i - 1].casefold() in SEGMENT_PREPOSITIONS for i in at) and word.isalpha()


BOUND_WORDS = frozenset({"under", "over", "than", "above", "below", "between", "beyond", "past", "sub", "least", "most"})
UNIT_WORDS = frozenset({"day", "days", "week", "weeks", "month", "months", "k", "m"})


def _owned(previous: str, vocab: Vocabulary) -> bool:
    """Whether a word follows a possessive that is no segment ("year's", "team's"; "APAC's" names a segment)."""
    owner = previous.casefold()
    return owner.endswith("'s") and not vocab.match(norm(owner[:-2]), allow_prefix=False)


def _segment_versus(words: str, vocab: Vocabulary) -> str:
    """"outbound vs inbound" compares segments, not periods: both, split by their dimension."""
    left, sep, right = words.partition(" vs ")
    if not sep:
        return words
    other = parse(right, vocab)
    mine = parse(left, vocab).query.filter_dict
    shared = [(d, v) for d, v in other.query.filters if d in mine]
    if other.query.compare is not None or len(shared) != 1:  # "APAC in 2024Q2 vs Enterprise": not two of a kind
        return words
    (dim, values), = shared
    extra = " ".join(f"{d}={','.join(v)}" if all(" " not in x for x in v) else " ".join(v)
                     for d, v in other.query.filters if d != dim)  # "outbound vs inbound in APAC"
    both = tuple(dict.fromkeys(mine.get(dim, ()) + values))
    rest = " ".join(w for w in left.split() if not vocab.match(norm(w), dim))
    period = other.query.period.text if other.query.period is not None else ""  # "X vs Y this year"
    return (f"{rest} {extra} {dim}={','.join(v.replace(' ', '') for v in both)} by {dim} {period}" if all(
        " " not in v for v in both) else f"{rest} {extra} {' '.join(both)} by {dim} {period}").strip()


def _is_follow_up(words: str, vocab: Vocabulary) -> bool:
    """A reply in a thread that changes part of the last question rather than asking a new one."""
    if FOLLOW_UP_START.match(words) or EVERYTHING.search(words):
        return True
    tokens = words.split()
    if len(tokens) > 5:
        return False
    args, _ = _arguments(FOLLOW_UP_START.sub("", words), vocab)
    return bool(command_of(words)) or (bool(args) and parse(args, vocab).ok)


def _contested_follow_up(intent: Intent, words: str, text: str, vocab: Vocabulary, as_of: dt.date) -> Intent:
    """A follow-up whose reading, with the thread's context, falls in a contested shape ("and how is Europe doing?"
    after /winrate APAC) is asked back as the same words would be on their own, each reading a button."""
    request = intent.request
    if request.query is None:
        return intent
    contest = _contested(request, words, text, request.query.text, vocab, as_of)
    if contest is None:
        return intent
    shape, readings = contest
    said = text if len(text) <= 80 else text[:79].rstrip() + "…"
    return Intent(UNKNOWN, intent.dropped, follow_up=True, choices=readings, unsupported=shape.unsupported,
                  contested=shape.name, note=shape.says if shape.unsupported else f"“{said}” reads two ways: {shape.says}")


def _scoped_follow_up(words: str, text: str, vocab: Vocabulary, as_of: dt.date, context_line: str) -> Intent:
    """A follow-up read with the thread's context. One that names its own analysis and a segment of a dimension the
    thread did not filter on, in a thread filtered on another dimension ("how's APAC trending" after an answer about
    rep_7), reads two ways: the segment on its own, or the segment within the thread's filter; careful readers
    disagree, so both readings are offered (the segment on its own first). A follow-up that opens by tying itself to
    the answer above ("and how is rep_7 doing", "what about enterprise?") or names no analysis ("APAC?") changes only
    what its words say; one naming a segment of a dimension the thread filtered on ("why is Europe down" after APAC)
    replaces that filter; "overall" clears them all."""
    kept = _contested_follow_up(_follow_up(words, vocab, context_line), words, text, vocab, as_of)
    if FOLLOW_UP_START.match(words) or command_of(words) is None:  # "and …", "what about …": tied to the answer above
        return kept
    old_command, old_args = split_command(context_line)
    old = parse(old_args, vocab).query
    new = parse(_arguments(FOLLOW_UP_START.sub("", words), vocab)[0], vocab).query
    old_dims, new_dims = {d for d, _ in old.filters}, {d for d, _ in new.filters}
    if not (new_dims - old_dims and old_dims - new_dims):
        return kept
    bare_line = f"/{old_command} {query_text(dataclasses.replace(old, filters=()))}".strip()
    alone = _contested_follow_up(_follow_up(words, vocab, bare_line), words, text, vocab, as_of)
    readings = tuple(dict.fromkeys((alone.choices or (alone.request,)) + (kept.choices or (kept.request,))))
    if len(readings) < 2 or not all(r.command != "unknown" for r in readings):
        return kept
    kept_filters = ", ".join(v for d, values in old.filters if d not in new_dims for v in values)
    said = text if len(text) <= 80 else text[:79].rstrip() + "…"
    return Intent(UNKNOWN, kept.dropped, follow_up=True, choices=readings, contested="follow-up-scope",
                  note=f"“{said}” reads two ways: on its own, or only within {kept_filters} as the thread's answer was.")


def _follow_up(words: str, vocab: Vocabulary, context_line: str) -> Intent:
    """The thread's last command with what the new words change (filters per dimension, period,
    comparison, grouping, command)."""
    words = FOLLOW_UP_START.sub("", words)
    old_command, old_args = split_command(context_line)
    # "vs last year" changes the comparison, not the command
    command = command_of(re.sub(r"\bvs\b.*", "", words)) or old_command
    if command in ("help", "digest", "health"):
        return Intent(_request(command, None, ""), follow_up=True)
    args, dropped = _arguments(words, vocab)
    new, old = parse(args, vocab), parse(old_args, vocab).query
    if new.problems:  # say what could not be used, on the words as typed
        return Intent(_request(command, None, args), dropped, follow_up=True)
    q = new.query
    filters = dict(old.filters)
    if EVERYTHING.search(words):
        filters = {}
    filters.update(dict(q.filters))
    for dim in q.group_by:  # "which region is worst?" in an APAC thread: every region, not APAC's one row
        if dim not in dict(q.filters):
            filters.pop(dim, None)
    group_by = q.group_by or (old.group_by if command == old_command else ())
    if q.group_by and command in ("why", "drivers", "trend", "deals"):
        command = "winrate"  # "by product" after /why: the rates by product
    merged = Query(filters=tuple(filters.items()), group_by=group_by, period=q.period or old.period,
                   compare=q.compare or (old.compare if command in ("winrate", "why") else None),
                   grain=q.grain or old.grain, outcome=q.outcome or (old.outcome if command == "deals" else None))
    if q.compare is not None and command not in COMPARING:  # "compare Q1 to Q2" after /funnel: never the vs dropped
        return _cannot_compare(command, merged, dropped)
    return Intent(_with_text(command, merged), dropped, follow_up=True)


COMPARING = ("winrate", "why")  # the commands that answer `vs` (bot.core.commands.COMMANDS' "vs")
EXPLICIT_PERIODS = ("calendar", "range", "relative", "ytd", "all")


def _cannot_compare(command: str, query: Query, dropped: tuple[str, ...], follow_up: bool = True) -> Intent:
    """A comparison asked in a thread whose analysis answers one period at a time ("compare Q1 to Q2" after /funnel):
    asked back with each period on its own and the win rate and its change compared, never the comparison dropped."""
    one = dataclasses.replace(query, compare=None, period=None if command == "pipeline" else query.period)
    each = [one] + ([dataclasses.replace(one, period=query.compare)] if query.compare.kind in EXPLICIT_PERIODS
                    and command != "pipeline" else [])
    compared = [dataclasses.replace(query, grain=None, outcome=None, group_by=query.group_by if c == "winrate" else ())
                for c in COMPARING]
    choices = tuple(dict.fromkeys([_with_text(command, q) for q in each]
                                  + [_with_text(c, q) for c, q in zip(COMPARING, compared)]))
    return Intent(UNKNOWN, dropped, follow_up=follow_up, choices=choices,
                  note="/pipeline forecasts the deals open now and cannot compare two periods." if command == "pipeline"
                  else f"/{command} answers one period at a time and cannot compare two periods.")


# Words naming a column an export may lack, and common values of it: on data without that column, a question
# naming one is told so plainly (as a typed `/winrate by region` is), never answered without the word.
COLUMN_NAMES = {
    "region": ("region", "regions", "geo", "geos", "territory", "territories"),
    "industry": ("industry", "industries", "vertical", "verticals", "sector", "sectors"),
    "lead_source": ("lead source", "lead sources", "lead_source", "source", "sources"),  # not "channel": Slack's
    "product_type": ("product", "products", "product type", "product_type"),
}
def _absent_column(words: str, vocab: Vocabulary) -> Intent | None:
    """A question naming a column the data lacks ("which industry should we focus on?"), or a common value of one
    ("what about Europe?" with no region column): said plainly, with splits by the columns it has as buttons."""
    absent = [d for d, why in vocab.missing.items() if why == "absent" and d in COLUMN_NAMES]
    for dim in absent:
        label = DIMENSION_LABELS.get(dim, dim)
        for word in COLUMN_NAMES[dim] + COLUMN_VALUES.get(dim, ()):
            if not re.search(rf"(?<![\w-])(?<!data ){re.escape(word)}(?![\w-])", words) or vocab.match(
                    norm(word), allow_prefix=False):  # "the data source" is no lead source
                continue
            named = word.upper() if word in ACRONYMS else word.title()
            article = "an" if label[0] in "aeiou" else "a"
            said = (f"“{named}” is {article} {label}, but this data has no {label} column"
                    if word in COLUMN_VALUES.get(dim, ()) else f"This data has no {label} column")
            others = [d for d in ("region", "product_type", "industry", "lead_source") if d in vocab.values][:3]
            return Intent(UNKNOWN, (), unsupported=True, choices=_asked(tuple(f"/winrate by {d}" for d in others)),
                          note=f"{said}, so it cannot be split or filtered by {label}.")
    return None


def query_text(query: Query) -> str:
    """A Query back in the grammar's words, so a follow-up is answered as if it had been typed."""
    parts = []
    for dim, values in query.filters:
        if all(" " not in v and "," not in v for v in values):
            parts.append(f"{dim}={','.join(values)}")
        else:
            parts.extend(values)
    if query.group_by:
        parts.append("by " + " and ".join(query.group_by))
    if query.grain:
        parts.append(f"{query.grain}ly")
    if query.period is not None:
        parts.append(query.period.text)
    if query.compare is not None:
        kind = query.compare.kind
        parts.append("vs " + {"previous": "previous", "year_ago": "last year"}.get(kind, query.compare.text))
    if query.outcome:
        parts.append(query.outcome)
    if query.limit:
        parts.append(f"top {query.limit}")
    return " ".join(p for p in parts if p)


# -- the unplaced-word guard --------------------------------------------------------------------------------
# A word the grammar cannot place is dropped as a sentence word. That is safe only for words known to carry no
# meaning the data could answer (or a meaning the rules already took): "why", "pls", "lately". Any other dropped
# word ("mumbai", "ebitda", "cohort") names something the bot does not have, and answering without it answers a
# different question, so the question is asked back naming the word, with the reading as a button. The known words
# are not learned from the corpora: a standard English stop-word list (the `stop-words` package), chat filler,
# and the words this module's own rules are written with (every word in its patterns and word lists); the
# grammar's vocabulary (commands, dimensions, values, periods) never reaches `dropped` at all.
CHAT_FILLER_TEXT = """
pls plz plzz pleeease thx thnx ty tysm thanks thank cheers rn atm asap fyi btw tbh imo imho afaik iirc lol lmk
idk ngl fwiw jk ok okay okey k kk yeah yep yup yes nope nah hmm hm um umm uh er ah oh hey hi hello yo sup gm
quick quickly real realquick basically literally seriously honestly anyway anyways like just gonna wanna gotta
kinda sorta lemme gimme ya u ur r y guys team folks all everyone someone please kindly sir maam tmrw tmr tomo
tonite eod eow eom eoq wk wks mo mos yr yrs qtr qtrs jan feb mar apr jun jul aug sep sept oct nov dec
wise plot graph chart visualize visualise visualisation visualization draw table summarize summarise recap
sorry dumb silly stupid naive headline appendix purposes purpose trusting trust load loaded loading
"""
CHAT_FILLER = frozenset(CHAT_FILLER_TEXT.split())
# the words the bot's own answers are written with (templates/text): what it can say, it can place
TEMPLATE_TEXT = Path(__file__).resolve().parents[2] / "templates" / "text"
_IN_PATTERN = re.compile(r"(?<![\\a-z])[a-z][a-z'-]+")


def _rule_words() -> tuple[frozenset[str], tuple[str, ...]]:
    """Every word this module's rules are written with (the literal words of its patterns and word lists), and
    the stems its patterns extend ("improv" in `improv\\w*`)."""
    words: set[str] = set()
    stems: set[str] = set()

    def from_pattern(source: str) -> None:
        clean = re.sub(r"\\[a-zA-Z]", lambda e: "\x00" if e.group(0) == "\\w" else " ", source)  # "\bdecompos\w*"
        for m in re.finditer(r"([a-z]+)(?: ?\?|\[- \]\?)([a-z]+)", clean):  # "data ?set": "dataset" too
            words.add(m.group(1) + m.group(2))
        for m in re.finditer(r"[a-z][a-z'-]+", clean):
            words.add(m.group(0))
            if clean[m.end():m.end() + 1] in ("\x00", "(", "[") and len(m.group(0)) >= 4:
                stems.add(m.group(0))

    def walk(value, depth: int = 0) -> None:
        if depth > 4:
            return
        if isinstance(value, re.Pattern):
            from_pattern(value.pattern)
        elif isinstance(value, str):
            if any(c in value for c in "\\|()[]"):
                from_pattern(value)
            else:
                words.update(w.casefold() for w in value.split())
        elif isinstance(value, dict):
            for k, v in value.items():
                walk(k, depth + 1)
                walk(v, depth + 1)
        elif isinstance(value, (tuple, list, set, frozenset)):
            for v in value:
                walk(v, depth + 1)
        elif dataclasses.is_dataclass(value) and not isinstance(value, type):
            for f in dataclasses.fields(value):
                walk(getattr(value, f.name), depth + 1)

    for name, value in list(globals().items()):
        if name.isupper() and not name.startswith("_"):
            walk(value)
    import ast  # and every pattern written inline in the rules' functions (string constants, not docstrings)
    tree = ast.parse(Path(__file__).read_text(encoding="utf-8"))
    docs = {id(n.body[0].value) for n in ast.walk(tree) if isinstance(n, (ast.FunctionDef, ast.ClassDef, ast.Module))
            and n.body and isinstance(n.body[0], ast.Expr) and isinstance(n.body[0].value, ast.Constant)}
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docs \
                and node.value not in (CHAT_FILLER_TEXT,):
            walk(node.value)
    return frozenset(words), tuple(sorted(stems))


_LEXICON: tuple[frozenset[str], tuple[str, ...]] | None = None


def _known_words() -> tuple[frozenset[str], tuple[str, ...]]:
    global _LEXICON
    if _LEXICON is None:
        from stop_words import get_stop_words
        rules, stems = _rule_words()
        spoken: set[str] = set()
        for template in sorted(TEMPLATE_TEXT.glob("*.j2")):
            prose = re.sub(r"\{[{%#].*?[}%#]\}", " ", template.read_text(encoding="utf-8"), flags=re.S)
            spoken.update(_IN_PATTERN.findall(prose.casefold()))
        _LEXICON = (rules | CHAT_FILLER | frozenset(spoken) | frozenset(w.casefold() for w in get_stop_words("en")),
                    stems)
    return _LEXICON


def _placed(word: str) -> bool:
    """Whether a dropped word is one the bot knows carries nothing to answer (or was taken by a rule)."""
    if not re.search(r"[a-z]", word) or len(word) <= 2 or "_" in word:
        return True  # emoji (":thinking_face:"), punctuation, numbers, "q" and other fragments: nothing a data set holds
    known, stems = _known_words()
    w = word.strip("'\".,!?:;()[]{}-").removesuffix("'s").removesuffix("’s")
    if "-" in w:  # "stage-by-stage", "rep-level": placed when each part is
        return all(_placed(part) for part in w.split("-") if part)
    forms = {w, w.removesuffix("s"), w.removesuffix("es"), w.removesuffix("ed"), w.removesuffix("d"),
             w.removesuffix("ing"), w.removesuffix("ly"), w.removesuffix("er"), w.removesuffix("est"),
             re.sub(r"ies$", "y", w), re.sub(r"iest$", "y", w), re.sub(r"ier$", "y", w)}
    if forms & known or any(w.startswith(s) for s in stems) or not w:
        return True
    # one slip from a known word ("teh", "bigest", "funnell", "avergae"), but never a plural of one ("trainings")
    return len(w) >= 3 and any(k[:1] == w[:1] and k != w + "s" and k + "s" != w and (
        _one_swap(k, w) or _one_dropped(k, w) or _one_dropped(w, k)) for k in known if abs(len(k) - len(w)) <= 1)


def _unplaced(dropped: tuple[str, ...]) -> tuple[str, ...]:
    """The dropped words nothing places, in order."""
    return tuple(w for w in dropped if not _placed(w))


def _quoted(words: tuple[str, ...]) -> str:
    named = [f"“{w}”" for w in words[:3]]
    return named[0] if len(named) == 1 else ", ".join(named[:-1]) + " or " + named[-1]
