using System.Diagnostics;
using Courier.Diagnostics.Internal;
using Courier.Protocol;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

/// <summary>The <c>courier-incarnation</c> header a held resend names (docs/protocol.md §2, §8).</summary>
public sealed class IncarnationHeaderTests
{
    [Fact]
    public void An_appended_incarnation_is_read_back_after_the_callers_headers()
    {
        var block = new CourierHeaders().Add("traceparent", "00-abc").Encode();

        var appended = IncarnationHeader.Append(block, 0x0123_4567_89AB_CDEF)!;

        Assert.Null(HeaderBlock.Check(appended));
        Assert.Equal(0x0123_4567_89AB_CDEFUL, IncarnationHeader.Read(appended));
        Assert.Equal("0123456789abcdef", CourierHeaders.Decode(appended)["courier-incarnation"]);
        Assert.Equal("00-abc", CourierHeaders.Decode(appended)["traceparent"]);
    }

    [Fact]
    public void No_room_beside_a_full_block_means_no_header_and_the_client_does_not_resend_unchecked()
    {
        var full = new CourierHeaders();
        for (var i = 0; i < CourierHeaders.MaxCount; i++)
        {
            full.Add("k" + i, "v");
        }

        var large = new CourierHeaders().Add("big", new string('x', CourierHeaders.MaxSize - 3 - 10));

        Assert.False(IncarnationHeader.Fits(full.Encode()));
        Assert.Null(IncarnationHeader.Append(full.Encode(), 1));
        Assert.False(IncarnationHeader.Fits(large.Encode()));
        Assert.True(IncarnationHeader.Fits(new CourierHeaders().Add("k", "v").Encode()));
    }

    [Fact]
    public void A_callers_own_incarnation_header_is_dropped_and_the_rest_kept_in_order()
    {
        var headers = new CourierHeaders().Add("a", "1").Add("courier-incarnation", "ffffffffffffffff").Add("b", "2");

        var kept = IncarnationHeader.Without(headers)!;

        Assert.Equal(["a", "b"], kept.Select(h => h.Key));
        var plain = new CourierHeaders().Add("a", "1");
        Assert.Same(plain, IncarnationHeader.Without(plain));
    }

    [Theory]
    [InlineData("")]
    [InlineData("0123")]
    [InlineData("0123456789abcdeg")]
    public void A_value_that_is_not_16_hex_digits_names_no_incarnation(string value)
        => Assert.Null(IncarnationHeader.Read(new CourierHeaders().Add("courier-incarnation", value).Encode()));

    [Fact]
    public void Trace_context_never_takes_the_room_an_at_most_once_resend_needs_for_the_incarnation()
    {
        using var activity = new Activity("request").SetIdFormat(ActivityIdFormat.W3C).Start();
        var oneShort = new CourierHeaders();
        for (var i = 0; i < CourierHeaders.MaxCount - 1; i++)
        {
            oneShort.Add("k" + i, "v");
        }

        // Room for the incarnation but not beside traceparent as well: the request goes untraced, never unresendable.
        var nearlyFull = new CourierHeaders().Add("big", new string('x', CourierHeaders.MaxSize - 3 - IncarnationHeader.Size - 10));
        foreach (var callers in new[] { oneShort, nearlyFull })
        {
            Assert.True(IncarnationHeader.Fits(callers.Encode()));
            var block = TraceHeaders.ForRequest(callers, activity);
            Assert.True(IncarnationHeader.Fits(block), "the trace context took the incarnation's room");
            Assert.False(CourierHeaders.Decode(block).TryGetValue("traceparent", out _));
        }

        // With room for both, both go.
        var traced = TraceHeaders.ForRequest(new CourierHeaders().Add("k", "v"), activity);
        Assert.Equal(activity.Id, CourierHeaders.Decode(traced)["traceparent"]);
        Assert.True(IncarnationHeader.Fits(traced));
    }
}
