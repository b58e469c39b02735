"""What the archive reads of an event and of each answer in ROUND0's full results: only
the fields it uses, leniently (`round0.reading`). The interview's id is the one field it
cannot do without (it names the folder and the API call)."""

from round0.lenient import Id, Lenient, Number, Text, Time


class Answer(Lenient):
    """One entry of `responses[]`: what its audio is stored under and with."""

    question_id: Id = None
    question_text: Text = None
    transcript: Text = None
    audio_url: Text = None
    duration_seconds: Number = None
    answered_at: Time = None
