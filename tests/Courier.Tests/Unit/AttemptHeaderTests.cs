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
}
