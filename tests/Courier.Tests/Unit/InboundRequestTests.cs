using Courier.Broker.Internal;
using Courier.Transport.Internal;

namespace Courier.Tests.Unit;

/// <summary>A pooled broker request takes the next lone request into its previous one's arrays when the lengths match.</summary>
public sealed class BrokerRequestTests
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
        var request = new BrokerRequest();
        var first = request.CopyFrames(Message(Peer, "CURC02-a"u8.ToArray(), "body-1"u8.ToArray()), Peer);
        var firstHeader = first[1];
        var firstBody = first[2];
        request.Set(1, first, default, null!).Clear();

        var second = request.CopyFrames(Message(Peer, "CURC02-b"u8.ToArray(), "body-2"u8.ToArray()), Peer);

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
        var request = new BrokerRequest();
        var frames = request.CopyFrames(Message(Peer, "secret"u8.ToArray()), Peer);
        request.Set(1, frames, default, null!).Clear();

        Assert.Null(frames[0]);
        Assert.All(frames[1], b => Assert.Equal(0, b));
        Assert.Equal([0, 1, 2, 3, 4], Peer);
    }

    [Fact]
    public void Other_lengths_or_large_requests_get_new_arrays()
    {
        var request = new BrokerRequest();
        var small = request.CopyFrames(Message(Peer, new byte[10]), Peer);
        var smallBody = small[1];
        request.Set(1, small, default, null!).Clear();
        var longer = request.CopyFrames(Message(Peer, new byte[11]), Peer);
        Assert.NotSame(smallBody, longer[1]);
        Assert.Equal(11, longer[1].Length);

        request.Set(2, longer, default, null!).Clear();
        var large = request.CopyFrames(Message(Peer, new byte[11], new byte[2000]), Peer);
        Assert.NotSame(longer, large);
        var largeBody = large[2];
        request.Set(3, large, default, null!).Clear();
        var after = request.CopyFrames(Message(Peer, new byte[11], new byte[2000]), Peer);
        Assert.NotSame(largeBody, after[2]); // over 1 KiB: not kept for the pool
        Assert.NotSame(large, after);
    }

    [Fact]
    public void A_refused_message_leaves_its_arrays_for_the_next()
    {
        var request = new BrokerRequest();
        var refused = request.CopyFrames(Message(Peer, new byte[8]), Peer);
        request.Keep(refused);
        request.Clear();

        Assert.Same(refused, request.CopyFrames(Message(Peer, new byte[8]), Peer));
    }
}
