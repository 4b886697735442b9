using System.Buffers.Binary;
using Courier.Client;
using Courier.Client.Internal;
using Courier.Tests.Infrastructure;
using NetMQ;

namespace Courier.Tests.Integration;

/// <summary>
/// A server played frame by frame that says it restarted at every liveness probe: each time, the client retires the
/// connection (it takes nothing new and keeps what went out after the probe, for the answers the new peer owes) and opens
/// a fresh one. Each retiring connection holds a descriptor and libzmq's buffers, so an endpoint keeps at most
/// <see cref="ConnectionPool.MaxRetiring"/> of them: past that its oldest is given up as lost.
/// </summary>
[Collection(Name)]
public sealed class RestartingPeerBoundTests
{
    public const string Name = "restarting peer";

    [SkippableFact]
    public async Task A_peer_that_restarts_at_every_probe_cannot_make_the_client_keep_a_connection_for_each_restart()
    {
        // The bound is the client engine's, the same code over either transport (and the server is NetMQ's in both):
        // run once. It runs alone, too: each retired connection lives on only while its probes are answered within an
        // attempt, and a machine busy with the other tests stalls the answers past that, so that the connections die
        // (rightly) before they pile up to the bound.
        Skip.If(TestTransport.IsManaged, "the client engine's bound: run on the native transport only");
        await using var server = await TestServer.StartAsync();
        await using var canary = await Canary.StartAsync(server.Endpoint!);
        var logs = new RecordingLoggerFactory();
        using var hostile = RawServer.Bind(out var endpoint);
        var port = Ports.Of(endpoint);
        // At most once (the default): a request whose attempt expires waits for the probe's answer, and is resent on the
        // same connection when the peer answers as the incarnation the client knows. So a retired connection keeps
        // holding what it held, as long as its peer says it is alive.
        await using var client = new CourierClient(CourierClientOptions.Default with
        {
            Endpoints = [endpoint],
            Timeout = TimeSpan.FromMilliseconds(400),
            Retries = 200,
            LoggerFactory = logs,
        });
        using var stop = new CancellationTokenSource();
        var requests = new List<Task>();
        var caller = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                requests.Add(client.RequestAsync("work", "x"));
                await Task.Delay(10);
            }
        });

        var told = new Dictionary<string, byte[]>(); // the incarnation each connection was last told
        var probed = new Dictionary<string, List<List<byte[]>>>(); // a live connection's probes, answered once a later request came
        var retired = new HashSet<string>();
        ulong restarts = 0;
        // Counted beside the server's loop, which only answers: a slow count there would leave probes unanswered.
        var most = 0;
        var boundHit = false;
        var watcher = Task.Run(async () =>
        {
            while (!stop.IsCancellationRequested)
            {
                most = Math.Max(most, Ports.ConnectionsTo(port));
                boundHit |= logs.Contains(GaveUpOldest);
                await Task.Delay(50);
            }
        });
        var boundAt = -1; // restarts told when the client was first seen giving its oldest retiring connection up
        var frames = new List<byte[]>();
        var until = DateTime.UtcNow + TimeSpan.FromSeconds(90);
        // Until the bound has acted and eight more restarts have been told. A connection whose probe goes unanswered for
        // a whole attempt (the machine stalled) is judged dead and closed: that slows the pile-up, never speeds it.
        while ((boundAt < 0 || retired.Count < boundAt + 8) && DateTime.UtcNow < until)
        {
            if (!hostile.TryReceiveMultipartBytes(TimeSpan.FromMilliseconds(50), ref frames))
            {
                continue;
            }

            var connection = Convert.ToHexString(frames[0]);
            if (RawServer.IsProtocolProbe(frames))
            {
                told[connection] = Incarnation(++restarts);
                RawServer.AnswerProbe(hostile, frames[0], "courier/3", told[connection]);
            }
            else if (IsLivenessProbe(frames))
            {
                if (retired.Contains(connection))
                {
                    AnswerLiveness(hostile, frames, told[connection]); // alive: it keeps what it holds
                }
                else
                {
                    // Each expiring request asks again: all are answered together, or the first one's deadline would
                    // judge the connection dead.
                    (probed.TryGetValue(connection, out var waiting) ? waiting : probed[connection] = []).Add([.. frames]);
                }
            }
            else if (probed.Remove(connection, out var probes))
            {
                // A request sent after the probes has come: the answers now say "restarted", and the connection retires
                // holding that request.
                told[connection] = Incarnation(++restarts);
                foreach (var probe in probes)
                {
                    AnswerLiveness(hostile, probe, told[connection]);
                }

                retired.Add(connection);
                if (boundAt < 0 && Volatile.Read(ref boundHit))
                {
                    boundAt = retired.Count;
                }
            }
        }

        await stop.CancelAsync();
        await caller.WaitAsync(TimeSpan.FromSeconds(15));
        await watcher.WaitAsync(TimeSpan.FromSeconds(15));
        // The bound's retiring connections, the current one and a fresh one dialling, and one more for a close the kernel
        // has not finished: without the bound they pile up past 40 (checked).
        Assert.InRange(most, 1, ConnectionPool.MaxRetiring + 3);
        Assert.True(boundAt > ConnectionPool.MaxRetiring, $"the oldest retiring connection given up after {boundAt} restarts ({retired.Count} told)");
        await canary.AssertUnharmedAsync();
        await client.DisposeAsync();
        foreach (var request in requests)
        {
            // Each ended: given up with its connection, failed as of unknown outcome, or closed with the client.
            await Assert.ThrowsAnyAsync<CourierException>(() => request.WaitAsync(TimeSpan.FromSeconds(15)));
        }
    }

    private static readonly string GaveUpOldest = $"more than {ConnectionPool.MaxRetiring} connections to its endpoint were retiring";

    private static byte[] Incarnation(ulong n)
    {
        var incarnation = new byte[8];
        BinaryPrimitives.WriteUInt64BigEndian(incarnation, n);
        return incarnation;
    }

    /// <summary>A liveness probe of courier/3 framing: a request whose id has the top bit set.</summary>
    private static bool IsLivenessProbe(List<byte[]> frames)
        => frames.Count >= 3 && frames[2].Length >= 14 && frames[2].AsSpan(0, 6).SequenceEqual("CURC02"u8)
            && BinaryPrimitives.ReadUInt64BigEndian(frames[2].AsSpan(6)) >= 1UL << 63;

    private static void AnswerLiveness(NetMQSocket socket, List<byte[]> probe, byte[] incarnation)
    {
        var answer = new byte[17];
        probe[2].AsSpan(0, 14).CopyTo(answer);
        "200"u8.CopyTo(answer.AsSpan(14));
        socket.SendMultipartMessage(new NetMQMessage([new NetMQFrame(probe[0]), NetMQFrame.Empty, new NetMQFrame(answer), new NetMQFrame("courier/3"u8.ToArray()), new NetMQFrame(incarnation)]));
    }
}

/// <summary>Runs after the others, alone: see <see cref="RestartingPeerBoundTests"/>.</summary>
[CollectionDefinition(RestartingPeerBoundTests.Name, DisableParallelization = true)]
public sealed class RestartingPeerAlone;
