using Courier.Protocol.Internal;
using Courier.Tests.Infrastructure;
using Courier.Transport.Internal;

namespace Courier.Tests.Unit;

/// <summary>A pooled request whose arrays may be reused (the broker's) takes the next lone request into its previous one's arrays when the lengths match.</summary>
public sealed class InboundRequestTests
{
    private static readonly byte[] Peer = [0, 1, 2, 3, 4];

    private static MessageFrames Message(params byte[][] frames)
    {
        var message = new MessageFrames();
        foreach (var frame in frames)
        {
            message.Append(frame);
        }

        return message;
    }

    [Fact]
    public void Frames_of_the_same_lengths_reuse_the_arrays_of_the_request_before_and_carry_the_new_bytes()
    {
        var request = new InboundRequest(reuseArrays: true);
        var first = request.TakeFrames(Message(Peer, "CURC02-a"u8.ToArray(), "body-1"u8.ToArray()), Peer);
        var firstHeader = first[1];
        var firstBody = first[2];
        Served(request, first);

        var second = request.TakeFrames(Message(Peer, "CURC02-b"u8.ToArray(), "body-2"u8.ToArray()), Peer);

        Assert.Same(first, second);
        Assert.Same(firstHeader, second[1]);
        Assert.Same(firstBody, second[2]);
        Assert.Same(Peer, second[0]);
        Assert.Equal("CURC02-b"u8.ToArray(), second[1]);
        Assert.Equal("body-2"u8.ToArray(), second[2]);
    }

    [Fact]
    public void A_kept_request_holds_no_client_bytes_and_never_the_shared_routing_id()
    {
        var request = new InboundRequest(reuseArrays: true);
        var frames = request.TakeFrames(Message(Peer, "secret"u8.ToArray()), Peer);
        Served(request, frames);

        Assert.Null(frames[0]);
        Assert.All(frames[1], b => Assert.Equal(0, b));
        Assert.Equal([0, 1, 2, 3, 4], Peer);
    }

    [Fact]
    public void Other_lengths_or_large_requests_get_new_arrays()
    {
        var request = new InboundRequest(reuseArrays: true);
        var small = request.TakeFrames(Message(Peer, new byte[10]), Peer);
        var smallBody = small[1];
        Served(request, small);
        var longer = request.TakeFrames(Message(Peer, new byte[11]), Peer);
        Assert.NotSame(smallBody, longer[1]);
        Assert.Equal(11, longer[1].Length);

        Served(request, longer);
        var large = request.TakeFrames(Message(Peer, new byte[11], new byte[2000]), Peer);
        Assert.NotSame(longer, large);
        var largeBody = large[2];
        Served(request, large);
        var after = request.TakeFrames(Message(Peer, new byte[11], new byte[2000]), Peer);
        Assert.NotSame(largeBody, after[2]); // over 1 KiB: not kept for the pool
        Assert.NotSame(large, after);
    }

    [Fact]
    public void A_request_whose_bytes_user_code_sees_never_hands_its_arrays_to_the_next()
    {
        var request = new InboundRequest(reuseArrays: false);
        var first = request.TakeFrames(Message(Peer, new byte[8]), Peer);
        var firstBody = first[1];
        Served(request, first);

        var second = request.TakeFrames(Message(Peer, new byte[8]), Peer);

        Assert.NotSame(first, second);
        Assert.NotSame(firstBody, second[1]);
    }

    [Fact]
    public void A_batch_record_shares_the_envelope_and_is_a_slice_of_the_batch()
    {
        var request = new InboundRequest(reuseArrays: true);
        byte[][] envelope = [Peer];
        var data = "....body...."u8.ToArray();

        request.SetRecord(envelope, 42, "echo", data.AsMemory(4, 4), null);

        Assert.Equal(ClientFraming.CourierBatch, request.Route.Framing);
        Assert.Same(Peer, request.Route.ClientId);
        Assert.Equal(42UL, request.Route.RequestId);
        Assert.Equal(1, request.BodyCount);
        Assert.Equal("body"u8.ToArray(), request.Body(0).ToArray());
        request.Clear();
        Assert.Same(Peer, envelope[0]); // the batch's envelope is shared: never zeroed or kept
    }

    /// <summary>Gives <paramref name="frames"/> to the request and forgets it, as once its reply has gone.</summary>
    private static void Served(InboundRequest request, byte[][] frames)
    {
        request.Set(frames, default, "echo", 1, null);
        request.Clear();
    }

    [Fact]
    public void Repeating_a_running_request_keeps_the_body_its_handler_got_and_frees_each_displaced_one_at_once()
    {
        var running = Decoded(out var original);
        var repeats = new List<(InboundRequest Attempt, TestFrame Body)>();
        for (var i = 0; i < 3; i++)
        {
            var attempt = Decoded(out var body);
            running.TakeRouteOf(attempt);
            attempt.Clear();
            repeats.Add((attempt, body));
        }

        // The handler's body stays; of the repeats only the newest is held (the route's); the others went at once.
        Assert.Equal(0, original.Disposals);
        Assert.Equal([1, 1, 0], repeats.Select(r => r.Body.Disposals));
        Assert.Equal(repeats[^1].Body.Memory.ToArray(), running.Body(0).ToArray());

        running.Clear();
        Assert.Equal(1, original.Disposals);
        Assert.Equal(1, repeats[^1].Body.Disposals);
    }

    /// <summary>A Courier request whose body is a large frame as the transport hands it over (<see cref="TestFrame"/>).</summary>
    private static InboundRequest Decoded(out TestFrame body)
    {
        var header = new byte[CourierFrame.PrefixLength + 4];
        CourierFrame.WriteRequest(header, 7, "echo"u8);
        var message = Message(Peer, [], header);
        body = new TestFrame(Guid.NewGuid().ToByteArray());
        message.AppendOwned(body);
        var request = new InboundRequest(reuseArrays: false);
        var frames = request.TakeFrames(message, Peer);
        Assert.True(ClientRequestDecoder.TryDecode(frames, request, "echo", out _));
        Assert.Equal(body.Memory.ToArray(), request.Body(0).ToArray());
        message.Clear(); // the request took the body: the next message does not dispose it
        Assert.Equal(0, body.Disposals);
        return request;
    }
}
