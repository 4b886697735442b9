using Courier.Transport.Internal;
using Courier.Transport.Internal.Zmtp;

namespace Courier.Tests.Unit;

/// <summary>Courier's own ZMTP DEALER's reading and writing of frames (RFC 37), without sockets.</summary>
public sealed class ZmtpFramingTests
{
    [Fact]
    public void The_greeting_is_64_bytes_of_ZMTP_3_1_with_the_NULL_mechanism_and_passes_its_own_check()
    {
        Assert.Equal(64, ZmtpWire.Greeting.Length);
        Assert.Equal(3, ZmtpWire.Greeting[10]);
        Assert.Null(ZmtpWire.GreetingProblem(ZmtpWire.Greeting));
        Assert.Null(ZmtpWire.ReadyProblem(ZmtpWire.ReadyDealer[2..]));
    }

    [Fact]
    public void A_greeting_of_another_mechanism_or_an_older_version_is_refused()
    {
        var curve = ZmtpWire.Greeting.ToArray();
        "CURVE"u8.CopyTo(curve.AsSpan(12));
        Assert.Contains("CURVE", ZmtpWire.GreetingProblem(curve), StringComparison.Ordinal);

        var old = ZmtpWire.Greeting.ToArray();
        old[10] = 2;
        Assert.Contains("not 3.x", ZmtpWire.GreetingProblem(old), StringComparison.Ordinal);

        var http = new byte[64];
        "GET / HTTP/1.1\r\n"u8.CopyTo(http);
        Assert.Equal("not a ZMTP greeting", ZmtpWire.GreetingProblem(http));
    }

    [Theory]
    [InlineData("ROUTER", true)]
    [InlineData("DEALER", true)]
    [InlineData("REP", true)]
    [InlineData("PUB", false)]
    [InlineData("", false)]
    public void A_READY_is_accepted_only_from_a_socket_a_DEALER_can_talk_to(string socketType, bool accepted)
    {
        var body = Ready(("Identity", ""), ("Socket-Type", socketType));

        Assert.Equal(accepted, ZmtpWire.ReadyProblem(body) is null);
    }

    [Fact]
    public void A_READY_whose_property_runs_past_its_end_is_malformed()
    {
        var body = Ready(("Socket-Type", "ROUTER"));
        body[^7] = 200; // the value's length, now past the body

        Assert.Equal("a malformed READY", ZmtpWire.ReadyProblem(body));
    }

    [Fact]
    public void Messages_written_by_the_outbound_queue_read_back_whole_across_any_split_of_the_stream()
    {
        var outbound = new ZmtpOutbound();
        var large = Enumerable.Range(0, 70_000).Select(i => (byte)i).ToArray();
        outbound.Enqueue([ReadOnlyMemory<byte>.Empty, "short"u8.ToArray()]);
        outbound.Enqueue([large]);
        outbound.EnqueueCommand(ZmtpWire.Ping);
        outbound.Enqueue([new byte[255], new byte[256]]);
        var wire = Drain(outbound);

        foreach (var chunk in new[] { 1, 7, 4096, wire.Length })
        {
            var inbound = new ZmtpInbound(maxFrameSize: 1 << 20, maxFrames: 64);
            var message = new MessageFrames();
            var seen = new List<string>();
            for (var at = 0; at < wire.Length; at += chunk)
            {
                Feed(inbound, wire.AsSpan(at, Math.Min(chunk, wire.Length - at)), message, found =>
                {
                    seen.Add(found == Inbound.Message ? string.Join(",", Enumerable.Range(0, message.Count).Select(i => message.Length(i))) : found.ToString());
                    if (found == Inbound.Message && message.Count == 1)
                    {
                        Assert.True(message[0].SequenceEqual(large));
                    }
                });
            }

            Assert.Equal(["0,5", "70000", "Command", "255,256"], seen);
        }
    }

    [Fact]
    public void A_frame_over_the_size_limit_ends_the_connection_before_any_of_it_is_held()
    {
        var inbound = new ZmtpInbound(maxFrameSize: 1000, maxFrames: 64);
        Span<byte> header = stackalloc byte[9];
        var size = ZmtpWire.WriteHeader(header, 1_000_000_000, 0);
        header[..size].CopyTo(inbound.FreeSpace);
        inbound.Advance(size);

        Assert.Equal(Inbound.Violation, inbound.TryTake(new MessageFrames()));
        Assert.Contains("1000000000 bytes", inbound.Problem, StringComparison.Ordinal);
        Assert.True(inbound.FreeSpace.Length < 1_000_000);
    }

    [Fact]
    public void A_message_past_the_frame_limit_is_skipped_as_it_comes_and_the_next_one_reads()
    {
        var outbound = new ZmtpOutbound();
        var frames = Enumerable.Range(0, 200).Select(_ => (ReadOnlyMemory<byte>)new byte[100]).ToArray();
        outbound.Enqueue(frames);
        outbound.Enqueue(["after"u8.ToArray()]);
        var wire = Drain(outbound);
        var inbound = new ZmtpInbound(maxFrameSize: 1 << 20, maxFrames: 64);
        var message = new MessageFrames();
        var results = new List<Inbound>();
        var largestRoom = 0;
        for (var at = 0; at < wire.Length; at += 500)
        {
            Feed(inbound, wire.AsSpan(at, Math.Min(500, wire.Length - at)), message, results.Add);
            largestRoom = Math.Max(largestRoom, inbound.Buffered);
        }

        Assert.Equal([Inbound.Dropped, Inbound.Message], results);
        Assert.Equal(200, inbound.DroppedFrames);
        Assert.Equal("after", System.Text.Encoding.ASCII.GetString(message[0]));
        Assert.True(largestRoom < 64 * 102 + 500, $"held {largestRoom} bytes of a dropped message");
    }

    [Fact]
    public void A_command_longer_than_any_ZMTP_command_needs_ends_the_connection()
    {
        var inbound = new ZmtpInbound(maxFrameSize: 1 << 20, maxFrames: 64);
        Span<byte> header = stackalloc byte[9];
        var size = ZmtpWire.WriteHeader(header, 100_000, ZmtpWire.Command);
        header[..size].CopyTo(inbound.FreeSpace);
        inbound.Advance(size);

        Assert.Equal(Inbound.Violation, inbound.TryTake(new MessageFrames()));
    }

    [Theory]
    [InlineData(-9L)]
    [InlineData(long.MinValue)]
    [InlineData(-4_294_967_000L)]
    public void A_command_of_negative_length_ends_the_connection(long length)
    {
        var inbound = new ZmtpInbound(maxFrameSize: 1 << 20, maxFrames: 64);
        byte[] header = [ZmtpWire.Command | ZmtpWire.Long, 0, 0, 0, 0, 0, 0, 0, 0, 1, 2, 3];
        System.Buffers.Binary.BinaryPrimitives.WriteInt64BigEndian(header.AsSpan(1), length);
        header.CopyTo(inbound.FreeSpace);
        inbound.Advance(header.Length);

        Assert.Equal(Inbound.Violation, inbound.TryTake(new MessageFrames()));
    }

    [Fact]
    public void A_buffer_grown_for_a_large_message_shrinks_even_when_the_next_message_has_begun()
    {
        var outbound = new ZmtpOutbound();
        // The large frame is not the last (a last one would be read into its own array, the buffer never grown).
        outbound.Enqueue([new byte[5 * 1024 * 1024], new byte[1]]);
        var wire = Drain(outbound);
        var inbound = new ZmtpInbound(maxFrameSize: 16 << 20, maxFrames: 64);
        var message = new MessageFrames();
        var taken = new List<Inbound>();
        Feed(inbound, [.. wire, 0x01], message, taken.Add); // and the first byte of the next frame

        Assert.Equal([Inbound.Message], taken);
        Assert.Equal(1, inbound.Buffered);
        Assert.True(inbound.FreeSpace.Length < 1024 * 1024, $"kept {inbound.FreeSpace.Length} bytes of room");
        message.Clear();
    }

    [Fact]
    public void A_large_last_frame_is_read_straight_into_its_own_array_and_the_buffer_does_not_grow_for_it()
    {
        var outbound = new ZmtpOutbound();
        var body = Enumerable.Range(0, 3 * 1024 * 1024).Select(i => (byte)(i * 7)).ToArray();
        outbound.Enqueue([ReadOnlyMemory<byte>.Empty, "header"u8.ToArray(), body]);
        outbound.Enqueue(["next"u8.ToArray()]);
        var wire = Drain(outbound);
        var inbound = new ZmtpInbound(maxFrameSize: 16 << 20, maxFrames: 64);
        var message = new MessageFrames();

        // The first read brings the small frames and the start of the body; from then on a read is offered the body's
        // remaining bytes and nothing past them.
        Feed(inbound, wire.AsSpan(0, 4096), message, found => Assert.Fail($"{found} before the body was all read"));
        var bodyStart = wire.AsSpan().IndexOf(body.AsSpan(0, 64));
        Assert.Equal(body.Length - (4096 - bodyStart), inbound.FreeSpace.Length);

        var sizes = new List<string>();
        Feed(inbound, wire.AsSpan(4096), message, found =>
        {
            Assert.Equal(Inbound.Message, found);
            sizes.Add(string.Join(",", Enumerable.Range(0, message.Count).Select(i => message.Length(i))));
            if (message.Count == 3)
            {
                Assert.True(message[2].SequenceEqual(body));
            }
        });

        Assert.Equal([$"0,6,{body.Length}", "4"], sizes);
        Assert.True(inbound.FreeSpace.Length <= 64 * 1024, $"the buffer grew to {inbound.FreeSpace.Length} bytes of room");
        message.Clear();
    }

    [Fact]
    public void A_connection_that_ends_while_a_large_frame_is_read_into_its_own_array_starts_the_next_one_clean()
    {
        var outbound = new ZmtpOutbound();
        outbound.Enqueue([new byte[1024 * 1024]]);
        outbound.Enqueue(["after"u8.ToArray()]);
        var wire = Drain(outbound);
        var inbound = new ZmtpInbound(maxFrameSize: 16 << 20, maxFrames: 64);
        var message = new MessageFrames();
        Feed(inbound, wire.AsSpan(0, 100_000), message, found => Assert.Fail(found.ToString()));
        Assert.True(inbound.FreeSpace.Length > 900_000);

        inbound.Reset();

        Assert.Equal(0, inbound.Buffered);
        var next = new ZmtpOutbound();
        next.Enqueue(["fresh"u8.ToArray()]);
        var taken = new List<string>();
        Feed(inbound, Drain(next), message, _ => taken.Add(System.Text.Encoding.ASCII.GetString(message[0])));
        Assert.Equal(["fresh"], taken);
    }

    [Fact]
    public void A_message_partly_sent_straight_from_its_frames_queues_exactly_the_rest_and_counts_as_half_written()
    {
        ReadOnlyMemory<byte>[] frames = [ReadOnlyMemory<byte>.Empty, "header"u8.ToArray(), Enumerable.Range(0, 70_000).Select(i => (byte)i).ToArray()];
        var whole = new ZmtpOutbound();
        whole.Enqueue(frames);
        var wire = Drain(whole);
        var next = new ZmtpOutbound();
        next.Enqueue(["next"u8.ToArray()]);
        var nextWire = Drain(next);

        // Every boundary: inside a header, between frames, inside the body, one byte short of the end.
        foreach (var written in new long[] { 0, 1, 2, 3, 8, 10, 12, 70_000, wire.Length - 1 })
        {
            var rest = new ZmtpOutbound();
            rest.EnqueueRest(frames, written);
            Assert.Equal(wire.Length - written, rest.Bytes);
            Assert.Equal(1, rest.Messages);
            Assert.True(rest.Pending.SequenceEqual(wire.AsSpan((int)written)), $"the rest after {written} bytes");

            // Written to the end, it leaves nothing queued.
            var done = new ZmtpOutbound();
            done.EnqueueRest(frames, written);
            done.Written(done.Bytes);
            Assert.True(done.IsEmpty && done.Messages == 0 && done.Bytes == 0, $"left queued after {written} bytes");

            // The connection ends: the peer saw part of it (or, at 0, none), and only what follows it is kept.
            rest.Enqueue(["next"u8.ToArray()]);
            rest.ConnectionEnded();
            var kept = written > 0 ? nextWire : [.. wire, .. nextWire];
            Assert.True(rest.Pending.SequenceEqual(kept), $"kept after {written} bytes");
        }
    }

    [Fact]
    public void A_connection_that_ends_drops_the_half_written_message_and_keeps_the_whole_ones_behind_it()
    {
        var outbound = new ZmtpOutbound();
        outbound.Enqueue(["first"u8.ToArray()]);
        outbound.EnqueueCommand(ZmtpWire.Ping);
        outbound.Enqueue(["second"u8.ToArray()]);
        outbound.Enqueue(["third"u8.ToArray()]);
        outbound.Written(3); // part of "first" reached the old connection

        outbound.ConnectionEnded();

        Assert.Equal(2, outbound.Messages);
        var inbound = new ZmtpInbound(1 << 20, 64);
        var wire = Drain(outbound);
        wire.CopyTo(inbound.FreeSpace);
        inbound.Advance(wire.Length);
        var message = new MessageFrames();
        Assert.Equal(Inbound.Message, inbound.TryTake(message));
        Assert.Equal("second", System.Text.Encoding.ASCII.GetString(message[0]));
        Assert.Equal(Inbound.Message, inbound.TryTake(message));
        Assert.Equal("third", System.Text.Encoding.ASCII.GetString(message[0]));
        Assert.Equal(Inbound.NeedMore, inbound.TryTake(message));
    }

    [Fact]
    public void A_PONG_echoes_the_PINGs_context()
    {
        byte[] ping = [4, (byte)'P', (byte)'I', (byte)'N', (byte)'G', 0, 10, (byte)'c', (byte)'t', (byte)'x'];
        var pong = new byte[32];

        var size = ZmtpWire.WritePong(pong, ping);

        Assert.Equal([ZmtpWire.Command, 8, 4, (byte)'P', (byte)'O', (byte)'N', (byte)'G', (byte)'c', (byte)'t', (byte)'x'], pong[..size]);
    }

    private static byte[] Ready(params (string Name, string Value)[] properties)
    {
        var body = new List<byte> { 5 };
        body.AddRange("READY"u8.ToArray());
        foreach (var (name, value) in properties)
        {
            body.Add((byte)name.Length);
            body.AddRange(System.Text.Encoding.ASCII.GetBytes(name));
            body.AddRange([0, 0, 0, (byte)value.Length]);
            body.AddRange(System.Text.Encoding.ASCII.GetBytes(value));
        }

        return [.. body];
    }

    /// <summary>Reads <paramref name="piece"/> in as a socket would (at most the free space at a time), taking each unit as it completes.</summary>
    private static void Feed(ZmtpInbound inbound, ReadOnlySpan<byte> piece, MessageFrames message, Action<Inbound> taken)
    {
        while (piece.Length > 0)
        {
            var room = inbound.FreeSpace;
            var count = Math.Min(room.Length, piece.Length);
            piece[..count].CopyTo(room);
            inbound.Advance(count);
            piece = piece[count..];
            for (var found = inbound.TryTake(message); found != Inbound.NeedMore; found = inbound.TryTake(message))
            {
                taken(found);
            }
        }
    }

    /// <summary>Everything queued, as the wire would carry it.</summary>
    private static byte[] Drain(ZmtpOutbound outbound)
    {
        var wire = outbound.Pending.ToArray();
        outbound.Written(wire.Length);
        return wire;
    }
}
