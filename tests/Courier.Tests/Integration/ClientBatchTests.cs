using System.Text;
using Courier.Tests.Infrastructure;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Integration;

/// <summary>A real <see cref="Client.CourierClient"/> against a broker played by a raw ROUTER socket that speaks courier/3.</summary>
public sealed class ClientBatchTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Fact]
    public async Task Client_takes_replies_from_one_batch_each_to_its_own_request()
    {
        using var broker = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(20) });

        var tasks = Enumerable.Range(0, 10).Select(i => client.RequestAsync(i == 3 ? "missing" : "upper", $"req {i}")).ToList();

        var frames = Receive(broker);
        Assert.Equal(("mmi.courier", "courier/7"), (Encoding.UTF8.GetString(frames[3]), Encoding.UTF8.GetString(frames[4])));
        var identity = frames[0];
        RawServer.AnswerProbe(broker, identity, "courier/3");

        // However the client packed them (batches, or single CURC02 requests), answer all in one batch.
        var requests = new List<(ulong Id, string Service, string Body)>();
        while (requests.Count < tasks.Count)
        {
            frames = Receive(broker);
            if (BatchFrames.Is(frames[2], 1))
            {
                requests.AddRange(BatchFrames.Parse(frames[2]));
            }
            else
            {
                requests.Add((System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6)), Encoding.UTF8.GetString(frames[2], 14, frames[2].Length - 14), Encoding.UTF8.GetString(frames[3])));
            }
        }

        var replies = requests.Select(r => r.Service == "upper" ? (r.Id, "200", r.Body.ToUpperInvariant()) : (r.Id, "404", $"no service '{r.Service}'"));
        Send(broker, identity, [[], BatchFrames.Build(2, [.. replies, (ulong.MaxValue, "200", "a reply to nothing")])]);

        for (var i = 0; i < tasks.Count; i++)
        {
            if (i == 3)
            {
                var error = await Assert.ThrowsAsync<CourierRemoteException>(() => tasks[i]);
                Assert.Equal((404, "no service 'missing'"), (error.StatusCode, error.RemoteMessage));
            }
            else
            {
                Assert.Equal($"REQ {i}", (await tasks[i]).BodyText);
            }
        }
    }

    /// <summary>
    /// Courier peers from before courier/4 answer courier/3 only to an offer of exactly that, and courier/2 to anything
    /// else (docs/protocol.md §2): the client, which offers courier/7, asks such a peer again, offering courier/3, and
    /// then sends it batches. Before, it took the first answer for "plain 7/MDP", waited out its probe, and replaced the
    /// connection by another that did the same: no request ever reached such a peer.
    /// </summary>
    [Fact]
    public async Task Client_asks_a_courier3_peer_again_when_it_answers_courier2_to_the_newer_offer_and_batches_to_it()
    {
        using var peer = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromSeconds(20) });

        var tasks = Enumerable.Range(0, 10).Select(i => client.RequestAsync("upper", $"req {i}")).ToList();

        var offers = new List<string>();
        byte[] identity = [];
        while (offers.Count < 2)
        {
            var probe = Receive(peer);
            Assert.Equal("mmi.courier", Encoding.UTF8.GetString(probe[3]));
            identity = probe[0];
            var offer = Encoding.UTF8.GetString(probe[4]);
            offers.Add(offer);
            // As a courier/3 server answers: its own version only to exactly that offer.
            RawServer.AnswerProbe(peer, identity, offer == "courier/3" ? "courier/3" : "courier/2");
        }

        Assert.Equal(["courier/7", "courier/3"], offers);

        var requests = new List<(ulong Id, string Service, string Body)>();
        var batches = 0;
        while (requests.Count < tasks.Count)
        {
            var frames = Receive(peer);
            Assert.Equal("CUR", Encoding.ASCII.GetString(frames[2], 0, 3)); // courier/2 or /3 framing, never 7/MDP's
            if (BatchFrames.Is(frames[2], 1))
            {
                batches++;
                requests.AddRange(BatchFrames.Parse(frames[2]));
            }
            else
            {
                requests.Add((System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6)), Encoding.UTF8.GetString(frames[2], 14, frames[2].Length - 14), Encoding.UTF8.GetString(frames[3])));
            }
        }

        Assert.True(batches > 0, "ten requests made at once went one by one: the client did not take courier/3");
        Send(peer, identity, [[], BatchFrames.Build(2, [.. requests.Select(r => (r.Id, "200", r.Body.ToUpperInvariant()))])]);
        for (var i = 0; i < tasks.Count; i++)
        {
            Assert.Equal($"REQ {i}", (await tasks[i]).BodyText);
        }
    }

    /// <summary>
    /// The second probe to a courier/3 peer gets a deadline of its own. Before, both round trips had to fit in one
    /// <c>Timeout</c> from the connection's start: against such a peer further away than half of it, the connection was
    /// judged dead at every try and replaced by another that did the same. The client's clock is injected: the first
    /// answer comes 50 minutes into a one-hour timeout, the second 50 minutes after that.
    /// </summary>
    [Fact]
    public async Task The_second_probe_to_a_courier3_peer_gets_a_whole_timeout_of_its_own()
    {
        var clock = new Microsoft.Extensions.Time.Testing.FakeTimeProvider();
        using var peer = RawServer.Bind(out var endpoint);
        await using var client = TestServer.Client(endpoint, o => o with { Timeout = TimeSpan.FromHours(1), Retries = 5, TimeProvider = clock });

        var pending = client.RequestAsync("upper", "slow peer");
        var first = Receive(peer);
        Assert.Equal("courier/7", Encoding.UTF8.GetString(first[4]));
        clock.Advance(TimeSpan.FromMinutes(50));
        RawServer.AnswerProbe(peer, first[0], "courier/2");

        var second = Receive(peer);
        Assert.Equal(first[0], second[0]);
        Assert.Equal("courier/3", Encoding.UTF8.GetString(second[4]));
        // 100 minutes since the connection began: past the first probe's hour, within the second's. Real time passes too,
        // three of the loop's 100 ms ticks, for a tick to judge the connection (it did, and dropped it, before).
        clock.Advance(TimeSpan.FromMinutes(50));
        await Task.Delay(300);
        RawServer.AnswerProbe(peer, first[0], "courier/3");

        // The request comes on that same connection, not a probe on a new one.
        var request = Receive(peer);
        Assert.Equal(first[0], request[0]);
        Assert.Equal("CURC02", Encoding.ASCII.GetString(request[2], 0, 6));
        Send(peer, first[0], [[], [.. request[2].AsSpan(0, 14), .. "200"u8], "SLOW PEER"u8.ToArray()]);
        Assert.Equal("SLOW PEER", (await pending.WaitAsync(Wait)).BodyText);
    }

    private static List<byte[]> Receive(RouterSocket socket)
    {
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytes(Wait, ref frames!), "nothing from the client");
        return frames;
    }

    private static void Send(RouterSocket socket, byte[] identity, byte[][] frames)
    {
        var message = new NetMQMessage();
        message.Append(identity);
        foreach (var frame in frames)
        {
            message.Append(frame);
        }

        socket.SendMultipartMessage(message);
    }
}
