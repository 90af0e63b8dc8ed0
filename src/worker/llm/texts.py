"""The offline provider's phrase book: English and Korean.

Each section kind has title templates and five sentence slots with alternatives; a
section is two paragraphs (slots 1-3, then 4-5 with a sentence for the reader's level).
Placeholders: `{t}` the topic as written, `{T}` the same with a capital first letter;
in English `{is}`, `{does}`, `{s}`, `{es}`, `{it}`, `{its}`, `{Its}`, `{them}`, `{itself}`
agree with the topic (singular "Redis is", plural "Redis streams are");
in Korean `{t은}`, `{t이}`, `{t을}`, `{t과}`, `{t으로}`, `{t이란}` attach the particle
that fits the topic's last syllable (see `offline.josa`).
"""

from __future__ import annotations

Kind = dict[str, list]

EN: dict[str, Kind] = {
    "what": {
        "titles": ["What {t} {is}", "Understanding {t}", "{T} in a nutshell"],
        "slots": [
            ["At {its} simplest, {t} {is} a set of ideas and habits built around one recurring "
             "problem.",
             "{T} {is} easiest to understand by starting from the problem {it} answer{s} "
             "rather than from {its} vocabulary."],
            ["Most of what makes {t} interesting comes from a handful of core ideas, and once "
             "those are clear the details fall into place.",
             "Underneath the jargon there are only a few moving parts, and each of them has a "
             "plain-language explanation."],
            ["The term is used loosely, so two people discussing {t} can mean quite different "
             "things; agreeing on a definition first saves a lot of time.",
             "A good working definition says what {t} include{s}, what {it} leave{s} out, and "
             "who {it} {is} meant for."],
            ["It also helps to separate the essential parts of {t} from the conventions that "
             "have simply grown up around {them}.",
             "Seen from a distance, {t} {is} a collection of choices that people made for good "
             "reasons, and most of those reasons still hold."],
            ["Keep that picture in mind, because every later section builds on it.",
             "With that foundation in place, the rest of the topic becomes much easier to "
             "follow."],
        ],
    },
    "why": {
        "titles": ["Why {t} matter{s}", "The case for {t}", "What {t} {is} good for"],
        "slots": [
            ["{T} matter{s} because {it} turn{s} a vague goal into something you can plan, measure "
             "and improve.",
             "The strongest argument for {t} is practical: {it} save{s} time and prevent{s} "
             "a familiar class of mistakes."],
            ["People who ignore {them} tend to rediscover {its} lessons the hard way, usually at an "
             "inconvenient moment.",
             "Without {them}, the same questions come back again and again, and each time they are "
             "answered a little differently."],
            ["That does not mean {t} {is} always the right tool; {it} pay{s} off most when the "
             "stakes are real and the work has to last.",
             "{Its} value grows with scale: a small effort may get by without {them}, while a large "
             "one rarely does."],
            ["There is also a human side, since a shared understanding of {t} gives a group a "
             "common language for difficult decisions.",
             "Just as important, {it} make{s} the work easier to explain to someone who was not "
             "there when the decisions were made."],
            ["In short, the effort you put into {t} tends to come back with interest.",
             "Those benefits are the reason {t} keep{s} coming up, long after newer ideas have "
             "come and gone."],
        ],
    },
    "how": {
        "titles": ["How {t} work{s}", "The moving parts of {t}", "Inside {t}"],
        "slots": [
            ["The mechanics of {t} are simpler than they first appear, and they follow a clear "
             "order.",
             "It helps to walk through {t} one step at a time, from the starting point to the "
             "result."],
            ["First comes a clear statement of the goal, then a small number of rules applied "
             "consistently, and finally a check that the result is what was intended.",
             "Each step hands something concrete to the next one, which is why mistakes early "
             "on tend to show up much later."],
            ["Most of the subtlety sits at the boundaries between those steps, where "
             "assumptions are easy to lose.",
             "When something goes wrong, the cause is usually a step that was skipped or done "
             "out of order rather than a flaw in the idea itself."],
            ["Once you can describe each stage in a sentence, you understand {t} well enough "
             "to reason about new situations.",
             "Drawing the whole process on a single page is a useful exercise: whatever does "
             "not fit is usually an unnecessary detail."],
            ["That mental model is worth more than any list of rules, because it tells you why "
             "the rules exist.",
             "With the mechanics clear, the practical advice that follows will make more "
             "sense."],
        ],
    },
    "start": {
        "titles": ["Getting started with {t}", "First steps", "A first project with {t}"],
        "slots": [
            ["The best way to begin with {t} is with something small enough to finish in an "
             "afternoon.",
             "Starting with {t} does not require special equipment or a long reading list, "
             "only a concrete goal."],
            ["Pick one narrow question, work through it end to end, and write down what "
             "surprised you along the way.",
             "Choose a problem you already understand, so that the only new thing is {t} "
             "{itself}."],
            ["Resist the urge to learn every option up front; the defaults are usually "
             "sensible, and you can revisit them later.",
             "Early results will be rough, and that is fine: the aim of a first attempt is to "
             "learn where the difficulties are."],
            ["After that, repeat the exercise with a slightly bigger problem and compare how it "
             "went.",
             "A short checklist of what worked, kept from the very first attempt, becomes "
             "surprisingly valuable over time."],
            ["Momentum matters more than perfection at this stage.",
             "Within a few rounds, the basic moves of {t} start to feel natural."],
        ],
    },
    "practice": {
        "titles": ["Best practices", "Working with {t} day to day", "Habits that make {t} easier"],
        "slots": [
            ["A few habits make working with {t} noticeably smoother.",
             "Experienced practitioners tend to agree on a short list of practices for {t}."],
            ["Keep things as simple as the problem allows, and add complexity only when you can "
             "name the reason for it.",
             "Write down decisions as you make them, together with the reason, so that they can "
             "be revisited later."],
            ["Check your results early and often, because small errors are cheap to fix and "
             "large ones are not.",
             "Prefer a steady routine over occasional heroic efforts; consistency is what makes "
             "{t} reliable."],
            ["Ask for feedback from someone who did not do the work, since fresh eyes catch "
             "what familiarity hides.",
             "Review what you did after each piece of work and keep the lessons somewhere you "
             "will see them again."],
            ["None of these habits is dramatic on its own, but together they separate careful "
             "work from lucky work.",
             "Over time these practices stop feeling like rules and simply become the way the "
             "work gets done."],
        ],
    },
    "pitfalls": {
        "titles": ["Common pitfalls and how to avoid them", "Mistakes to watch for",
                   "Where {t} go{es} wrong"],
        "slots": [
            ["Most problems with {t} come from a short list of recurring mistakes.",
             "Even experienced people fall into the same traps with {t}, usually under time "
             "pressure."],
            ["The most common one is starting before the goal is clear, which leads to work "
             "that is polished but aimed at the wrong target.",
             "A frequent mistake is copying a solution from a different context without "
             "checking whether its assumptions still hold."],
            ["Another is trying to do everything at once instead of finishing one part "
             "properly.",
             "It is also easy to trust a result because it looks reasonable, without checking "
             "it against something independent."],
            ["Each of these has a simple remedy: slow down at the start, state your "
             "assumptions, and verify before you build on a result.",
             "The remedy is usually not more effort but better timing: a few minutes of "
             "checking at the right moment saves hours later."],
            ["Knowing the traps in advance is most of the work of avoiding them.",
             "Treat every mistake you do make as information about where your process needs a "
             "guard rail."],
        ],
    },
    "examples": {
        "titles": ["{T} in practice", "Real-world examples", "What {t} looks like in real life"],
        "slots": [
            ["Ideas about {t} become clearer when you see them applied to real situations.",
             "It is one thing to describe {t} in the abstract and another to watch {them} at "
             "work."],
            ["Imagine a small team adopting {t} for the first time: the first weeks are slower, "
             "but the second month is calmer and more predictable.",
             "Consider someone who tried {t} on a single project, kept notes, and then reused "
             "the best parts on the next one."],
            ["In both kinds of story the benefit comes from the same place: fewer surprises and "
             "decisions that are easier to explain.",
             "What these cases have in common is not talent or budget but a willingness to be "
             "deliberate."],
            ["The examples also show the limits, because {t} {does} not remove the need for "
             "judgement.",
             "They also show that results depend heavily on context, so it pays to adapt ideas "
             "rather than copy them."],
            ["Looking for similar examples close to your own situation is one of the fastest "
             "ways to learn.",
             "Collecting such stories, including the failures, is a cheap and effective way to "
             "get better at {t}."],
        ],
    },
    "future": {
        "titles": ["Where {t} {is} heading", "The future of {t}", "What comes next for {t}"],
        "slots": [
            ["{T} keep{s} changing, and the direction of that change is already visible.",
             "Like most fields, {t} {is} being reshaped by better tools and by the people who use "
             "them."],
            ["The trend is toward making the basics easier so that attention can go to the "
             "genuinely hard questions.",
             "Much of what once required specialist knowledge is becoming accessible to anyone "
             "willing to learn."],
            ["At the same time, expectations are rising, and what counted as good practice a "
             "few years ago is now simply the minimum.",
             "That shift raises the bar for everyone, but it also rewards people who understand "
             "the fundamentals."],
            ["The safest bet is to invest in the ideas that have stayed stable, because they "
             "outlast any particular tool.",
             "Whatever the next tools look like, the underlying principles of {t} are likely to "
             "stay the same."],
            ["Watching how others adapt is a good way to stay ahead without chasing every "
             "novelty.",
             "Staying curious, and a little sceptical, is the best preparation for whatever "
             "comes next."],
        ],
    },
}

EN_LEVEL = {
    "beginner": [
        "If you are new to {t}, do not worry about the details yet; the general shape is what "
        "matters.",
        "A simple way to remember this is to compare it with everyday tasks that you already "
        "know how to do well.",
        "It is perfectly normal for this to feel unfamiliar at first, and it becomes easier "
        "with a little practice.",
        "Try explaining the idea in your own words to a friend; if you can, you have "
        "understood it.",
    ],
    "intermediate": [
        "If you already know the basics, this is where a deliberate approach starts to pay "
        "off.",
        "Compare this with your own experience and note where it differs, since those "
        "differences are where you will learn the most.",
        "At this level the goal is no longer to follow the steps but to know when to change "
        "them.",
        "Measuring before and after a change is the most reliable way to tell whether it "
        "helped.",
    ],
    "advanced": [
        "For experienced practitioners the interesting questions are about trade-offs rather "
        "than techniques.",
        "Every choice here has a cost somewhere else, and the skill lies in deciding which "
        "cost you can afford.",
        "It is worth questioning the standard advice, because it was written for the common "
        "case and yours may not be one.",
        "Edge cases and failure modes deserve as much attention as the happy path, since that "
        "is where real systems spend their worst days.",
    ],
}

EN_FRAME = {
    "intro": {
        "beginner": "This is a gentle introduction to {t} for readers meeting it for the "
                    "first time.",
        "intermediate": "This guide is for readers who know the basics of {t} and want a "
                        "clearer, more practical picture.",
        "advanced": "This piece takes a closer look at {t} for readers who already use {them} "
                    "and want to sharpen their judgement.",
    },
    "parts": "It covers {n} parts: {list}. Each part can be read on its own, but together "
             "they build a complete picture.",
    "conclusion": "{T} reward{s} a patient, deliberate approach. Start with the fundamentals "
                  "from \u201c{first}\u201d, keep the habits from the later sections in mind, "
                  "and come back to this material as your experience grows. The details will "
                  "change over time, but the reasoning behind them will keep serving you well.",
    "titles": {
        "beginner": ["{T} for Beginners", "A Gentle Introduction to {T}", "Getting to Know {T}"],
        "intermediate": ["{T}: A Practical Guide", "Making Sense of {T}", "{T}, Explained"],
        "advanced": ["{T} in Depth: Trade-offs and Techniques", "Mastering {T}",
                     "{T}: Beyond the Basics"],
    },
}

KO: dict[str, Kind] = {
    "what": {
        "titles": ["{t이란} 무엇인가", "{t} 이해하기", "한눈에 보는 {t}"],
        "slots": [
            ["{t은} 한마디로 반복되는 하나의 문제를 다루기 위한 생각과 습관의 묶음입니다.",
             "{t은} 용어보다 그것이 해결하려는 문제에서 출발할 때 가장 쉽게 이해됩니다."],
            ["{t}의 흥미로운 점은 대부분 몇 가지 핵심 개념에서 나오며, 그것만 분명해지면 "
             "나머지는 자연스럽게 따라옵니다.",
             "전문 용어를 걷어 내면 움직이는 부분은 몇 개뿐이고, 각각은 쉬운 말로 설명할 수 "
             "있습니다."],
            ["이 말은 넓은 의미로 쓰이기 때문에 같은 단어를 쓰면서도 서로 다른 것을 떠올리기 "
             "쉽습니다. 먼저 정의를 맞추는 것이 시간을 아끼는 길입니다.",
             "좋은 정의는 {t}에 무엇이 포함되고 무엇이 빠지는지, 그리고 누구를 위한 것인지를 "
             "말해 줍니다."],
            ["또한 {t}의 본질적인 부분과 관례처럼 굳어진 부분을 구분해 두면 도움이 됩니다.",
             "한 걸음 떨어져 보면 {t은} 누군가 타당한 이유로 내린 선택들의 모음이며, 그 "
             "이유의 대부분은 지금도 유효합니다."],
            ["뒤의 내용은 모두 이 그림 위에 쌓이므로 기억해 두시기 바랍니다.",
             "이 기초가 잡히면 나머지 내용은 훨씬 쉽게 따라갈 수 있습니다."],
        ],
    },
    "why": {
        "titles": ["{t이} 중요한 이유", "왜 {t}인가", "{t}의 쓸모"],
        "slots": [
            ["{t이} 중요한 까닭은 막연한 목표를 계획하고 측정하고 개선할 수 있는 대상으로 "
             "바꿔 주기 때문입니다.",
             "{t을} 지지하는 가장 강력한 근거는 실용성입니다. 시간을 아껴 주고 흔한 실수를 "
             "막아 줍니다."],
            ["이를 무시한 사람들은 결국 가장 곤란한 순간에 같은 교훈을 힘들게 다시 배우곤 "
             "합니다.",
             "그것이 없으면 같은 질문이 계속 돌아오고, 그때마다 조금씩 다른 답이 나옵니다."],
            ["그렇다고 {t이} 언제나 정답인 것은 아닙니다. 실제로 걸린 것이 있고 오래 유지해야 "
             "하는 일일수록 효과가 큽니다.",
             "그 가치는 규모와 함께 커집니다. 작은 일은 없이도 버틸 수 있지만 큰 일은 그렇지 "
             "않은 경우가 많습니다."],
            ["사람의 측면도 있습니다. {t}에 대한 공통된 이해는 어려운 결정을 내릴 때 팀에 같은 "
             "언어를 줍니다.",
             "그에 못지않게, 결정 당시 그 자리에 없던 사람에게 일을 설명하기도 쉬워집니다."],
            ["요컨대 {t}에 들인 노력은 대개 이자까지 붙어서 돌아옵니다.",
             "새로운 유행이 오고 가도 {t이} 계속 언급되는 것은 바로 이런 이점 때문입니다."],
        ],
    },
    "how": {
        "titles": ["{t}의 작동 방식", "{t}의 구성 요소", "{t} 들여다보기"],
        "slots": [
            ["{t}의 원리는 처음 보기보다 단순하며, 분명한 순서를 따릅니다.",
             "출발점에서 결과까지 {t을} 한 단계씩 따라가 보면 이해가 쉽습니다."],
            ["먼저 목표를 분명히 하고, 몇 가지 규칙을 일관되게 적용한 뒤, 마지막으로 결과가 "
             "의도대로인지 확인합니다.",
             "각 단계는 다음 단계에 구체적인 무언가를 넘겨주기 때문에, 초반의 실수는 한참 "
             "뒤에야 드러나곤 합니다."],
            ["미묘한 부분은 대부분 단계와 단계 사이, 가정이 쉽게 사라지는 경계에 있습니다.",
             "문제가 생기면 원인은 대개 아이디어 자체의 결함이 아니라 빠뜨렸거나 순서가 바뀐 "
             "단계입니다."],
            ["각 단계를 한 문장으로 설명할 수 있다면 새로운 상황에서도 {t}에 대해 추론할 수 "
             "있을 만큼 이해한 것입니다.",
             "전체 과정을 한 장에 그려 보는 것도 좋은 연습입니다. 그 안에 들어가지 않는 것은 "
             "대개 불필요한 세부 사항입니다."],
            ["이런 머릿속 모델은 어떤 규칙 목록보다 값집니다. 규칙이 왜 존재하는지 알려 주기 "
             "때문입니다.",
             "원리가 분명해졌으니 이어지는 실용적인 조언도 더 잘 와닿을 것입니다."],
        ],
    },
    "start": {
        "titles": ["{t} 시작하기", "첫걸음", "{t으로} 해 보는 첫 프로젝트"],
        "slots": [
            ["{t을} 시작하는 가장 좋은 방법은 오후 한나절에 끝낼 수 있을 만큼 작은 일부터 해 "
             "보는 것입니다.",
             "{t을} 시작하는 데 특별한 장비나 긴 읽을거리 목록은 필요 없습니다. 구체적인 목표 "
             "하나면 충분합니다."],
            ["좁은 질문 하나를 골라 처음부터 끝까지 해결해 보고, 그 과정에서 놀랐던 점을 적어 "
             "두세요.",
             "이미 잘 아는 문제를 고르면 새로운 것은 {t} 하나뿐이라 배우기가 훨씬 쉽습니다."],
            ["처음부터 모든 선택지를 익히려 하지 마세요. 기본값은 대체로 합리적이고, 나중에 "
             "얼마든지 다시 볼 수 있습니다.",
             "첫 결과는 거칠기 마련이고 그래도 괜찮습니다. 첫 시도의 목적은 어려운 지점이 "
             "어디인지 알아내는 것입니다."],
            ["그다음에는 조금 더 큰 문제로 같은 연습을 반복하고 결과를 비교해 보세요.",
             "첫 시도부터 무엇이 잘 됐는지 짧은 체크리스트로 남겨 두면 시간이 지날수록 놀랄 "
             "만큼 쓸모가 있습니다."],
            ["이 단계에서는 완벽함보다 꾸준한 흐름이 더 중요합니다.",
             "몇 번만 반복하면 {t}의 기본 동작이 자연스럽게 느껴지기 시작합니다."],
        ],
    },
    "practice": {
        "titles": ["모범 사례", "일상에서 {t} 다루기", "{t을} 쉽게 만드는 습관"],
        "slots": [
            ["몇 가지 습관만 들여도 {t을} 다루는 일이 눈에 띄게 수월해집니다.",
             "숙련된 사람들은 {t}에 관한 몇 가지 실천 방법에 대체로 의견을 같이합니다."],
            ["문제가 허락하는 한 단순하게 유지하고, 이유를 댈 수 있을 때만 복잡함을 더하세요.",
             "결정을 내릴 때마다 그 이유와 함께 적어 두면 나중에 다시 검토할 수 있습니다."],
            ["결과는 일찍, 자주 확인하세요. 작은 오류는 고치기 쉽지만 큰 오류는 그렇지 "
             "않습니다.",
             "가끔의 영웅적인 노력보다 꾸준한 루틴을 택하세요. {t을} 믿을 만하게 만드는 것은 "
             "일관성입니다."],
            ["직접 작업하지 않은 사람에게 피드백을 구하세요. 익숙함이 가리는 것을 새로운 눈은 "
             "잡아냅니다.",
             "일을 마칠 때마다 돌아보고, 얻은 교훈을 다시 보게 될 곳에 적어 두세요."],
            ["어느 습관도 그 자체로는 대단하지 않지만, 함께 모이면 신중한 작업과 운 좋은 "
             "작업을 가릅니다.",
             "시간이 지나면 이런 습관은 규칙이라기보다 그저 일하는 방식이 됩니다."],
        ],
    },
    "pitfalls": {
        "titles": ["흔한 함정과 피하는 법", "주의해야 할 실수", "{t이} 어긋나는 지점"],
        "slots": [
            ["{t}에서 생기는 문제의 대부분은 되풀이되는 몇 가지 실수에서 나옵니다.",
             "경험 많은 사람도 시간에 쫓기면 {t}에서 같은 함정에 빠지곤 합니다."],
            ["가장 흔한 것은 목표가 분명해지기 전에 시작하는 것입니다. 그러면 완성도는 높지만 "
             "과녁이 빗나간 결과물이 나옵니다.",
             "다른 맥락의 해법을 그 가정이 여전히 맞는지 확인하지 않고 그대로 가져오는 것도 "
             "자주 보는 실수입니다."],
            ["한 부분을 제대로 끝내는 대신 모든 것을 한꺼번에 하려는 것도 문제입니다.",
             "그럴듯해 보인다는 이유만으로 결과를 믿고, 독립적인 무언가와 대조해 보지 않는 "
             "경우도 많습니다."],
            ["각각의 해결책은 단순합니다. 처음에 속도를 늦추고, 가정을 밝히고, 결과 위에 "
             "무언가를 쌓기 전에 검증하세요.",
             "해결책은 대개 더 많은 노력이 아니라 더 나은 타이밍입니다. 알맞은 순간의 몇 "
             "분짜리 확인이 나중의 몇 시간을 아껴 줍니다."],
            ["함정을 미리 알고 있는 것만으로도 피하는 일의 대부분은 끝난 셈입니다.",
             "실수를 했다면 과정의 어디에 안전장치가 필요한지 알려 주는 정보로 여기세요."],
        ],
    },
    "examples": {
        "titles": ["실전 속의 {t}", "실제 사례", "현실에서 만나는 {t}"],
        "slots": [
            ["{t}에 대한 생각은 실제 상황에 적용된 모습을 볼 때 더 분명해집니다.",
             "{t을} 추상적으로 설명하는 것과 실제로 작동하는 모습을 보는 것은 다른 일입니다."],
            ["{t을} 처음 도입한 작은 팀을 떠올려 보세요. 처음 몇 주는 더디지만 두 번째 달에는 "
             "한결 차분하고 예측 가능해집니다.",
             "한 프로젝트에서 {t을} 시도하며 기록을 남기고, 그중 좋았던 부분을 다음 "
             "프로젝트에 다시 쓴 사람을 생각해 보세요."],
            ["두 이야기 모두 이점은 같은 곳에서 나옵니다. 놀랄 일이 줄고, 결정을 설명하기가 "
             "쉬워집니다.",
             "이런 사례들의 공통점은 재능이나 예산이 아니라 의도적으로 일하려는 태도입니다."],
            ["사례는 한계도 보여 줍니다. {t이} 판단의 필요까지 없애 주지는 않습니다.",
             "결과가 맥락에 크게 좌우된다는 것도 보여 주므로, 그대로 베끼기보다 상황에 맞게 "
             "고쳐 쓰는 편이 낫습니다."],
            ["자신의 상황과 비슷한 사례를 찾아보는 것이 가장 빠르게 배우는 방법 중 "
             "하나입니다.",
             "실패담을 포함해 이런 이야기를 모아 두는 것은 {t}에 능숙해지는 값싸고 효과적인 "
             "방법입니다."],
        ],
    },
    "future": {
        "titles": ["{t}의 앞날", "{t}의 미래", "{t}, 다음은 무엇인가"],
        "slots": [
            ["{t은} 계속 변하고 있으며, 그 방향은 이미 눈에 보입니다.",
             "다른 분야와 마찬가지로 {t}도 더 나은 도구와 그것을 쓰는 사람들에 의해 새롭게 "
             "다듬어지고 있습니다."],
            ["기본적인 부분은 더 쉬워지고, 그만큼 정말 어려운 질문에 주의를 기울일 수 있게 "
             "되는 추세입니다.",
             "한때 전문 지식이 필요했던 많은 일이 배우려는 누구에게나 열리고 있습니다."],
            ["동시에 기대치도 높아져서, 몇 년 전의 모범 사례가 이제는 최소한의 기준이 "
             "되었습니다.",
             "이런 변화는 모두에게 기준을 높이지만, 기초를 제대로 이해한 사람에게는 오히려 "
             "보상이 됩니다."],
            ["가장 안전한 투자는 오랫동안 변하지 않은 원리에 하는 것입니다. 그 원리는 어떤 "
             "도구보다 오래갑니다.",
             "다음 도구가 어떤 모습이든 {t}의 기본 원리는 그대로일 가능성이 큽니다."],
            ["다른 사람들이 어떻게 적응하는지 지켜보면 모든 유행을 쫓지 않고도 앞서 나갈 수 "
             "있습니다.",
             "호기심을 잃지 않되 약간의 의심을 품는 것이 앞으로 올 변화에 대한 가장 좋은 "
             "준비입니다."],
        ],
    },
}

KO_LEVEL = {
    "beginner": [
        "{t이} 처음이라면 세부 사항은 아직 걱정하지 않아도 됩니다. 중요한 것은 전체적인 "
        "모양입니다.",
        "이미 익숙한 일상의 일과 비교해 보면 쉽게 기억할 수 있습니다.",
        "처음에는 낯설게 느껴지는 것이 당연하며, 조금만 연습하면 금방 익숙해집니다.",
        "이 내용을 친구에게 자기 말로 설명해 보세요. 설명할 수 있다면 이해한 것입니다.",
    ],
    "intermediate": [
        "기본을 이미 알고 있다면, 바로 이 지점부터 의도적인 접근이 효과를 내기 시작합니다.",
        "자신의 경험과 비교해 다른 점을 적어 보세요. 그 차이에서 가장 많이 배우게 됩니다.",
        "이 수준에서 목표는 단계를 따르는 것이 아니라 언제 단계를 바꿔야 하는지 아는 "
        "것입니다.",
        "변화가 도움이 되었는지 알려면 변경 전후를 측정하는 것이 가장 확실합니다.",
    ],
    "advanced": [
        "숙련자에게 흥미로운 질문은 기법이 아니라 트레이드오프에 관한 것입니다.",
        "여기서의 모든 선택은 다른 곳에 비용을 남기며, 어떤 비용을 감당할지 정하는 것이 "
        "실력입니다.",
        "표준적인 조언도 의심해 볼 가치가 있습니다. 그것은 흔한 경우를 위해 쓰였고, 여러분의 "
        "경우는 그렇지 않을 수 있습니다.",
        "예외 상황과 실패 양상은 정상 경로만큼 주의를 기울일 가치가 있습니다. 실제 시스템이 "
        "가장 힘든 날을 보내는 곳이 바로 거기이기 때문입니다.",
    ],
}

KO_FRAME = {
    "intro": {
        "beginner": "이 글은 {t을} 처음 접하는 독자를 위한 친절한 입문서입니다.",
        "intermediate": "이 글은 {t}의 기본을 알고 더 분명하고 실용적인 그림을 원하는 독자를 "
                        "위한 안내서입니다.",
        "advanced": "이 글은 이미 {t을} 다루고 있으며 판단력을 더 다듬고 싶은 독자를 위해 "
                    "한층 깊이 들여다봅니다.",
    },
    "parts": "모두 {n}부분으로 나누어 {list} 순서로 살펴봅니다. 각 부분은 따로 읽어도 되지만, "
             "함께 읽으면 하나의 완결된 그림이 됩니다.",
    "conclusion": "{t은} 인내심 있고 신중한 접근에 보답합니다. \u2018{first}\u2019에서 다룬 "
                  "기초부터 시작하고, 뒤에서 살펴본 습관을 염두에 두며, 경험이 쌓일 때마다 이 "
                  "내용을 다시 펼쳐 보세요. 세부 사항은 시간이 지나며 바뀌겠지만, 그 밑에 깔린 "
                  "이유는 계속 도움이 될 것입니다.",
    "titles": {
        "beginner": ["처음 만나는 {t}", "{t} 입문", "쉽게 배우는 {t}"],
        "intermediate": ["{t} 실전 가이드", "{t}, 제대로 이해하기", "한 걸음 더 들어가는 {t}"],
        "advanced": ["{t} 심층 분석: 설계와 트레이드오프", "{t} 깊이 보기", "기본을 넘어서는 {t}"],
    },
}

#: the order of sections for each length; a tuple offers alternatives
# a section kind, or a choice between kinds
PLANS: dict[int, list[str | tuple[str, ...]]] = {
    3: ["what", ("how", "why"), ("practice", "pitfalls")],
    5: ["what", "why", "how", "pitfalls", "practice"],
    7: ["what", "why", "how", "start", "examples", "pitfalls", "future"],
}
