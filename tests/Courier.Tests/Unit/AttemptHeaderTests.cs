using Courier.Protocol;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

/// <summary>The <c>courier-attempt</c> header a 503 to a courier/5 request names (docs/protocol.md §8, Refusals).</summary>
public sealed class AttemptHeaderTests
{
    [Theory]
    [InlineData(1)]
    [InlineData(9)]
    [InlineData(10)]
    [InlineData(255)]
    public void A_named_attempt_is_a_valid_block_that_reads_back(byte attempt)
    {
        var block = AttemptHeader.Of(attempt);

        Assert.Null(HeaderBlock.Check(block));
        Assert.Equal(attempt, AttemptHeader.Read(block));
        Assert.Equal(attempt.ToString(System.Globalization.CultureInfo.InvariantCulture), CourierHeaders.Decode(block)["courier-attempt"]);
    }

    [Theory]
    [InlineData("")]
    [InlineData("0")]
    [InlineData("256")]
    [InlineData("-1")]
    [InlineData("+2")]
    [InlineData(" 2")]
    [InlineData("0002")]
    [InlineData("two")]
    public void A_value_that_names_no_attempt_reads_as_none(string value)
    {
        var block = new CourierHeaders().Add("courier-attempt", value).Encode();

        Assert.Equal(0, AttemptHeader.Read(block));
    }

    [Fact]
    public void A_block_without_the_entry_names_no_attempt()
    {
        Assert.Equal(0, AttemptHeader.Read(new CourierHeaders().Add("traceparent", "00-abc").Encode()));
        Assert.Equal(0, AttemptHeader.Read([]));
    }

    [Theory]
    [InlineData(256, 255, 2, 255, true)] // the 256th copy and the 255th both said 255: either may be refused
    [InlineData(300, 255, 5, 255, true)]
    [InlineData(255, 255, 2, 255, false)] // the 255th after the 254th: 255 is the copy out there
    [InlineData(256, 255, 1, 255, false)] // one copy here: the refusal is its own
    [InlineData(256, 255, 2, 254, false)] // names an earlier copy outright (the caller's other test)
    [InlineData(10, 10, 2, 255, false)] // names a copy never sent: no reason to wait
    public void A_refusal_naming_255_is_ambiguous_only_when_two_copies_there_said_255(int attempts, byte taken, int takenHere, byte refused, bool ambiguous)
    {
        var request = new Client.Internal.PendingRequest(1, "pay", [], [], continueInline: false)
        {
            Attempts = attempts,
            TakenAttempt = taken,
            TakenHere = takenHere,
        };

        Assert.Equal(ambiguous, Client.Internal.ClientEngine.SaidTheSameAttempt(request, refused));
    }
}
