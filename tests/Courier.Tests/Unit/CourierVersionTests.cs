using System.Text;
using Courier.Client;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

/// <summary>Negotiation of courier/4 and the worker's READY capability frame (docs/protocol.md §2–3).</summary>
public sealed class CourierVersionTests
{
    [Theory]
    [InlineData("courier/4", "courier/4")]
    [InlineData("courier/3", "courier/3")]
    [InlineData("courier/2", "courier/2")]
    [InlineData("courier/5", "courier/5")]
    [InlineData("courier/6", "courier/6")]
    [InlineData("courier/7", "courier/7")]
    [InlineData("courier/9", "courier/7")] // a newer peer gets the newest both speak
    [InlineData("", "courier/2")] // Courier peers before batches offer nothing
    [InlineData("courier/", "courier/2")]
    [InlineData("courier/4x", "courier/2")]
    [InlineData("junk", "courier/2")]
    public void A_probe_is_answered_with_the_newest_version_both_speak(string offer, string answer)
    {
        Assert.Equal(answer, Encoding.ASCII.GetString(ProtocolVersions.AnswerTo(Encoding.ASCII.GetBytes(offer))));
    }

    [Fact]
    public void A_worker_offering_courier_4_to_a_broker_from_before_it_asks_again_offering_courier_3()
    {
        var negotiation = new Negotiation(ClientProtocol.Auto, long.MaxValue - 1, ProtocolVersions.Courier4);
        Assert.Equal("courier/4", Offer(negotiation));

        Assert.False(negotiation.Answered(Answer("200", "courier/2")));
        Assert.Equal((PeerMode.Probing, "courier/3"), (negotiation.Mode, Offer(negotiation)));

        Assert.True(negotiation.Answered(Answer("200", "courier/3")));
        Assert.Equal((PeerMode.Courier, 3, true, false), (negotiation.Mode, negotiation.Version, negotiation.PeerBatches, negotiation.PeerMultiService));
    }

    [Theory]
    [InlineData("200", "courier/4", true, 4)]
    [InlineData("501", null, false, 0)]
    public void A_worker_settles_on_the_answer_to_its_offer(string status, string? body, bool courier, int version)
    {
        var mode = courier ? PeerMode.Courier : PeerMode.Plain;
        var negotiation = new Negotiation(ClientProtocol.Auto, long.MaxValue - 1, ProtocolVersions.Courier4);

        Assert.True(negotiation.Answered(body is null ? Answer(status) : Answer(status, body)));

        Assert.Equal((mode, version, version >= 4), (negotiation.Mode, negotiation.Version, negotiation.PeerMultiService));
    }

    [Fact]
    public void A_client_offering_courier_3_that_hears_courier_2_settles_at_once()
    {
        var negotiation = new Negotiation(ClientProtocol.Auto, long.MaxValue - 1, ProtocolVersions.Courier3);

        Assert.True(negotiation.Answered(Answer("200", "courier/2")));
        Assert.Equal((PeerMode.Courier, false), (negotiation.Mode, negotiation.PeerBatches));
    }

    [Theory]
    [InlineData(4, 16, "inv-1", "courier/4 capacity=16 name=inv-1")]
    [InlineData(4, 16, null, "courier/4 capacity=16")]
    [InlineData(4, 1, "two words", "courier/4 capacity=1 name=two words")]
    [InlineData(3, 5, "inv-1", "courier/3 capacity=5")] // a courier/3 broker would not parse a name
    [InlineData(2, 5, null, "courier/2 capacity=5")]
    public void The_capability_frame_says_version_capacity_and_from_courier_4_the_name(int version, int capacity, string? name, string frame)
    {
        var written = CourierWorkerFrame.Capability(version, capacity, name);

        Assert.Equal(frame, Encoding.UTF8.GetString(written));
        Assert.Equal(new WorkerCapability(version, capacity, version >= 4 ? name : null), CourierWorkerFrame.ParseCapability(written));
    }

    [Theory]
    [InlineData("courier/4 capacity=0 name=x")]
    [InlineData("courier/4 capacity= name=x")]
    [InlineData("courier/3 capacity=5 name=x")] // names only from courier/4 on
    [InlineData("courier/4 capacity=-1")]
    [InlineData("courier/8 capacity=5")] // a version this build does not know
    [InlineData("capacity=5")]
    [InlineData("")]
    public void A_frame_that_is_not_a_capability_makes_a_stock_worker(string frame)
    {
        Assert.Equal(WorkerCapability.None, CourierWorkerFrame.ParseCapability(Encoding.UTF8.GetBytes(frame)));
        Assert.False(WorkerCapability.None.Courier);
    }

    [Fact]
    public void A_received_name_is_made_printable_and_short()
    {
        var frame = Encoding.UTF8.GetBytes("courier/4 capacity=2 name=evil\nname\u001b[31m" + new string('é', 100));

        var name = CourierWorkerFrame.ParseCapability(frame).Name!;

        Assert.StartsWith("evil?name?[31m", name, StringComparison.Ordinal);
        Assert.InRange(Encoding.UTF8.GetByteCount(name), WorkerName.MaxBytes - 1, WorkerName.MaxBytes);
        Assert.DoesNotContain('\uFFFD', name);
        Assert.Null(WorkerName.Decode("   "u8));
        // Not controls, but they print as something else: a right-to-left override, a line break, a zero-width space.
        Assert.Equal("a?b?c?d", WorkerName.Sanitize("a\u202Eb\u2028c\u200Bd"));
        Assert.Equal("bad?utf8", WorkerName.Decode([.. "bad"u8, 0xFF, .. "utf8"u8]));
    }

    [Fact]
    public void A_courier_4_request_header_names_its_service_after_the_token()
    {
        var header = new byte[CourierWorkerFrame.MaxRequestLength];

        var length = CourierWorkerFrame.WriteRequest(header, 0x0102030405060708, "inventory.get"u8);

        Assert.Equal([.. "CURW02"u8, 2, 1, 2, 3, 4, 5, 6, 7, 8, .. "inventory.get"u8], header[..length]);
        Assert.True(CourierWorkerFrame.IsRequest(header.AsSpan(0, length)));
        Assert.True(CourierWorkerFrame.IsRequest(header.AsSpan(0, CourierWorkerFrame.WriteRequest(header, 1))));
        Assert.False(CourierWorkerFrame.IsRequest(header.AsSpan(0, 14)));
    }

    private static string Offer(Negotiation negotiation) => Encoding.ASCII.GetString(negotiation.ProbeFrames[3].Span);

    private static List<byte[]> Answer(params string[] tail) => [[], .. new[] { "MDPC01", "mmi.courier" }.Concat(tail).Select(Encoding.ASCII.GetBytes)];
}
