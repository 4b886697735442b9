using System.Text;
using Courier.Protocol;
using Courier.Protocol.Internal;

namespace Courier.Tests.Unit;

/// <summary>courier/5's frames and headers (docs/protocol.md §8), byte by byte, and the bounds every peer enforces.</summary>
public sealed class DeliveryFrameTests
{
    [Fact]
    public void A_courier_5_request_header_is_laid_out_as_documented()
    {
        var client = new ClientIdentity(0x1111111111111111, 0x2222222222222222);
        var headers = new CourierHeaders().Add("k", "vé").Encode();
        var frame = new byte[CourierFrame5.MaxRequestLength];

        var length = CourierFrame5.WriteRequest(frame, 7, client, 2, DeliveryFlags.Idempotent, 1500, "svc"u8, headers);

        byte[] expected =
        [
            .. "CURC05"u8, 0x01, 0, 0, 0, 0, 0, 0, 0, 7,
            .. Enumerable.Repeat((byte)0x11, 8), .. Enumerable.Repeat((byte)0x22, 8),
            2, 0x01, 0, 0, 0x05, 0xDC, 3, .. "svc"u8,
            1, (byte)'k', 0, 3, (byte)'v', 0xC3, 0xA9,
        ];
        Assert.Equal(expected, frame[..length]);
        Assert.True(CourierFrame5.TryReadRequest(frame.AsMemory(0, length), out var id, out var delivery, out var service));
        Assert.Equal((7UL, client, (byte)2, true, 1500U, "svc"), (id, delivery.Client, delivery.Attempt, delivery.Idempotent, delivery.BudgetMs, Encoding.ASCII.GetString(service.Span)));
        Assert.Equal([new KeyValuePair<string, string>("k", "vé")], CourierHeaders.Decode(delivery.Headers.Span));
    }

    [Fact]
    public void A_request_header_cut_short_is_not_read()
    {
        var frame = new byte[CourierFrame5.MaxRequestLength];
        var length = CourierFrame5.WriteRequest(frame, 9, new ClientIdentity(1, 2), 1, DeliveryFlags.None, 0, "service"u8, default);

        Assert.False(CourierFrame5.TryReadRequest(frame.AsMemory(0, length - 1), out var id, out _, out _));
        Assert.Equal(9UL, id); // still known, to address the 400
        Assert.False(CourierFrame5.TryReadRequest(frame.AsMemory(0, 20), out _, out _, out _));
    }

    [Fact]
    public void Reply_and_cancel_frames_are_laid_out_as_documented()
    {
        var reply = new byte[64];
        var length = CourierFrame5.WriteReply(reply, 0x0A, 200, new CourierHeaders().Add("a", "b").Encode());
        Assert.Equal([.. "CURC05"u8, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x0A, .. "200"u8, 1, (byte)'a', 0, 1, (byte)'b'], reply[..length]);

        var cancel = CourierFrame5.CancelFrame(0x0B, new ClientIdentity(3, 4));
        Assert.Equal([.. "CURC05"u8, 0x03, 0, 0, 0, 0, 0, 0, 0, 0x0B, 0, 0, 0, 0, 0, 0, 0, 3, 0, 0, 0, 0, 0, 0, 0, 4], cancel);
        Assert.Equal(new RequestKey(new ClientIdentity(3, 4), 0x0B), CourierFrame5.ReadCancel(cancel));

        var worker = new byte[64];
        length = CourierWorkerFrame5.WriteRequest(worker, 0x0C, 250, "s"u8, default);
        Assert.Equal([.. "CURW05"u8, 0x02, 0, 0, 0, 0, 0, 0, 0, 0x0C, 0, 0, 0, 250, 1, (byte)'s'], worker[..length]);
        Assert.Equal([.. "CURW05"u8, 0x06, 0, 0, 0, 0, 0, 0, 0, 0x0D], CourierWorkerFrame5.CancelFrame(0x0D));
    }

    [Fact]
    public void Batch_records_of_courier_5_carry_meta_between_tag_and_body()
    {
        var writer = new BatchWriter(Batch.ClientRequest5);
        writer.SetClient(new ClientIdentity(5, 6));
        Assert.True(writer.TryAdd(1, "a"u8, [9, 9], "hdr"u8, "body"u8));
        Assert.True(writer.TryAdd(2, "bb"u8, [], [], ""u8));

        var frame = writer.Frame.ToArray();
        Assert.Equal([.. "CURB03"u8, 0x05, 0, 0, 0, 0, 0, 0, 0, 5, 0, 0, 0, 0, 0, 0, 0, 6], frame[..23]);
        Assert.Equal([0, 0, 0, 0, 0, 0, 0, 1, 1, (byte)'a', 0, 5, 9, 9, .. "hdr"u8, 0, 0, 0, 4, .. "body"u8], frame[23..48]);
        var reader = new BatchReader(frame);
        Assert.Equal(new ClientIdentity(5, 6), reader.Client);
        Assert.True(reader.TryRead(out var first));
        Assert.Equal((1UL, "a", "\t\thdr", "body"), (first.Id, Encoding.ASCII.GetString(first.Tag), Encoding.ASCII.GetString(first.Meta), Encoding.ASCII.GetString(first.Body)));
        Assert.True(reader.TryRead(out var second));
        Assert.Equal((2UL, 0, 0), (second.Id, second.Meta.Length, second.Body.Length));
        Assert.False(reader.TryRead(out _));
        Assert.False(reader.Malformed);

        // A meta length past the end of the frame ends the batch.
        frame[33] = 0xFF;
        reader = new BatchReader(frame);
        Assert.False(reader.TryRead(out _));
        Assert.True(reader.Malformed);
    }

    [Theory]
    [InlineData("", "a header with an empty key")]
    [InlineData("sp ace", "a header key that is not printable ASCII without spaces")]
    public void A_header_key_that_breaks_the_rules_is_refused(string key, string problem)
    {
        Assert.Throws<ArgumentException>(() => new CourierHeaders().Add(key, "v"));
        byte[] block = [(byte)Encoding.UTF8.GetByteCount(key), .. Encoding.UTF8.GetBytes(key), 0, 1, (byte)'v'];
        Assert.Equal(problem, HeaderBlock.Check(block));
    }

    [Fact]
    public void Headers_are_bounded_in_count_and_size_on_both_sides()
    {
        var many = new CourierHeaders();
        for (var i = 0; i < CourierHeaders.MaxCount; i++)
        {
            many.Add($"k{i}", "v");
        }

        Assert.Throws<ArgumentException>(() => many.Add("one", "more"));
        Assert.Throws<ArgumentException>(() => new CourierHeaders().Add("big", new string('x', CourierHeaders.MaxSize)));
        Assert.Null(HeaderBlock.Check(many.Encode()));

        // What a hostile peer could send instead: the receiving side counts too.
        var tooMany = Enumerable.Range(0, CourierHeaders.MaxCount + 1).SelectMany(i => (byte[])[1, (byte)'k', 0, 0]).ToArray();
        Assert.Equal($"more than {CourierHeaders.MaxCount} headers", HeaderBlock.Check(tooMany));
        byte[] tooBig = [.. Enumerable.Range(0, 2).SelectMany(_ => (byte[])[1, (byte)'k', 0x10, 0x00, .. new byte[0x1000]])];
        Assert.Contains("8192 bytes", HeaderBlock.Check(tooBig), StringComparison.Ordinal);
        Assert.Equal("malformed headers (an entry cut short)", HeaderBlock.Check([1, (byte)'k', 0, 5, (byte)'v']));
        Assert.Equal("a header value that is not UTF-8", HeaderBlock.Check([1, (byte)'k', 0, 1, 0xFF]));
    }

    [Fact]
    public void Received_headers_are_read_only_and_keep_their_order_and_repeats()
    {
        var sent = new CourierHeaders().Add("b", "1").Add("a", "2").Add("b", "3");

        var received = CourierHeaders.Decode(sent.Encode());

        Assert.Equal(["b", "a", "b"], received.Select(h => h.Key));
        Assert.Equal(["1", "3"], received.GetValues("b"));
        Assert.Equal("2", received["a"]);
        Assert.Null(received["c"]);
        Assert.True(received.IsReadOnly);
        Assert.Throws<InvalidOperationException>(() => received.Add("c", "4"));
    }

    [Theory]
    [InlineData("courier/5 capacity=3 idempotent name=inv 1", 3, true, "inv 1")]
    [InlineData("courier/5 capacity=3 name=idempotent", 3, false, "idempotent")]
    [InlineData("courier/5 capacity=3", 3, false, null)]
    [InlineData("courier/4 capacity=3 idempotent", 0, false, null)] // only courier/5 declares it
    [InlineData("courier/6 capacity=3 idempotent name=inv 1", 3, true, "inv 1")] // and every version after it
    public void A_courier_5_worker_declares_idempotent_services_in_its_capability(string frame, int capacity, bool idempotent, string? name)
    {
        var parsed = CourierWorkerFrame.ParseCapability(Encoding.UTF8.GetBytes(frame));

        Assert.Equal((capacity, idempotent, name), (parsed.Courier ? parsed.Capacity : 0, parsed.Idempotent, parsed.Name));
        if (capacity > 0)
        {
            Assert.Equal(frame, Encoding.UTF8.GetString(CourierWorkerFrame.Capability(frame[8] - '0', capacity, name, idempotent)));
        }
    }
}
