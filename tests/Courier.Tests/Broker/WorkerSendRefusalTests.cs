using System.Text;
using Courier.Client;
using Courier.Server;
using Courier.Tests.Infrastructure;
using Courier.Transport;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>
/// A broker that cannot hand a request to its worker: ZeroMQ takes a message whole or not at all, so the refused request
/// never reached the worker and goes back to the queue even when it is not idempotent; only requests a worker was sent
/// can be answered 520 (outcome unknown). A worker refused a send (its unwritten bytes, or its high-water mark) is behind,
/// not dead: it keeps its registration and is tried again at the next tick, and only a liveness period of refusals (or
/// its silence) drops it.
/// </summary>
public sealed class WorkerSendRefusalTests
{
    private const int Requests = 16;
    private const int BodySize = 1024 * 1024;

    [Theory]
    [InlineData("unwritten bytes")]
    [InlineData("high-water mark")]
    public async Task A_request_refused_to_a_worker_runs_on_another_and_only_requests_a_worker_was_sent_are_answered_520(string limit)
    {
        var logs = new RecordingLoggerFactory();
        // Slow heartbeats (the raw worker sends none), so that it is dropped for its silence only after the good worker started.
        var heartbeat = TimeSpan.FromSeconds(2);
        var transport = limit == "unwritten bytes"
            ? TransportOptions.Default with { MaxPendingBytesPerPeer = 3 * BodySize }
            : TransportOptions.Default with { SendHighWatermark = 4 };
        await using var broker = await TestBroker.StartAsync(o => o with
        {
            HeartbeatInterval = heartbeat,
            // Dropped after 8 s, its requests answered 520 8 s later, well within the callers' 90 s. The good worker, sharing
            // the machine with 16 callers moving 1 MiB each way, may be refused sends too (it is then slowed), but takes one
            // at some tick within that time.
            HeartbeatLiveness = 4,
            ServiceGracePeriod = Timeout.InfiniteTimeSpan,
            LoggerFactory = logs,
            Transport = transport,
        });
        await using var client = TestServer.Client(broker.Endpoint!);

        // A worker that takes every request and reads none: a one-message receive queue and a small kernel buffer.
        using var stuck = new DealerSocket();
        stuck.Options.ReceiveHighWatermark = 1;
        stuck.Options.ReceiveBuffer = 16 * 1024;
        stuck.Options.Linger = TimeSpan.Zero;
        stuck.Connect(broker.Endpoint!);
        var ready = new NetMQMessage();
        foreach (var frame in new[] { ""u8.ToArray(), "MDPW01"u8.ToArray(), [1], "refused"u8.ToArray(), Encoding.ASCII.GetBytes($"courier/2 capacity={Requests}") })
        {
            ready.Append(frame);
        }

        stuck.SendMultipartMessage(ready);
        await TestBroker.WaitForWorkersAsync(client, "refused", 1);

        // Sixteen 1 MiB requests fill its connection; then a send to it is refused. A client each: the limits apply to the
        // broker's replies too, and a burst of 520s or 1 MiB replies to one client would be refused by them.
        var callers = Enumerable.Range(0, Requests).Select(_ => TestServer.Client(broker.Endpoint!, o => o with { Timeout = TimeSpan.FromSeconds(90), Retries = 0 })).ToArray();
        (int Index, string Outcome)[] outcomes;
        try
        {
            var calls = Enumerable.Range(0, Requests).Select(i => OutcomeAsync(i, callers[i].RequestAsync("refused", (ReadOnlyMemory<byte>)Body(i)))).ToArray();
            try
            {
                await Poll.UntilAsync(() => logs.Contains("was refused a request"), TimeSpan.FromSeconds(20), "a send to the stuck worker refused");
            }
            catch (TimeoutException)
            {
                Assert.Fail("no send to the stuck worker was refused:\n" + string.Join("\n", logs.Messages.Take(60)));
            }

            await using var good = await TestBroker.StartWorkerAsync(
                broker.Endpoint!, "good", service: "refused", configure: o => o with { HeartbeatInterval = heartbeat }, handler: CourierServices.Echo);
            outcomes = await Task.WhenAll(calls).WaitAsync(TimeSpan.FromSeconds(120));

            // Every call answered: no worker still counts one of them as its own (a requeued request left there would).
            Assert.Equal([("good", 0)], (await TestBroker.WorkersAsync(client, "refused")).Select(w => (w.Name, w.Outstanding)));
        }
        finally
        {
            foreach (var caller in callers)
            {
                await caller.DisposeAsync();
            }
        }

        // What the transport took for the stuck worker reaches it once it reads: through a 16 KiB window, which on a
        // loaded machine can take seconds a message. Read until 3 s pass without one, and at least until those answered
        // 520 have come (or a minute: then the assertion below says which did not).
        var answered = outcomes.Where(o => o.Outcome == "200").Select(o => o.Index).ToHashSet();
        var unknown = outcomes.Where(o => o.Outcome == "520").Select(o => o.Index).ToHashSet();
        var reached = new HashSet<int>();
        var frames = new List<byte[]>();
        for (var giveUp = DateTime.UtcNow + TimeSpan.FromMinutes(1); DateTime.UtcNow < giveUp;)
        {
            if (!stuck.TryReceiveMultipartBytes(TimeSpan.FromSeconds(3), ref frames!))
            {
                if (unknown.IsSubsetOf(reached))
                {
                    break;
                }

                continue;
            }

            if (frames.Count >= 2 && frames[0].Length == 15 && frames[0].AsSpan().StartsWith("CURW02"u8) && frames[0][6] == 2)
            {
                reached.Add(Index(frames[^1]));
            }
        }

        var summary = string.Join("\n", logs.Messages.Take(60)) + $"\nanswered [{string.Join(',', answered)}], 520 [{string.Join(',', unknown)}], reached the stuck worker [{string.Join(',', reached)}]";
        Assert.True(answered.Count + unknown.Count == Requests, "every call ends answered or 520: " + string.Join(", ", outcomes.Select(o => $"{o.Index}:{o.Outcome}")) + "\n" + string.Join("\n", logs.Messages.Take(60)));
        Assert.True(unknown.IsSubsetOf(reached), "a request that never reached the stuck worker was answered 520: " + summary);
        Assert.False(answered.Overlaps(reached), "a request that reached the stuck worker ran again: " + summary);
        Assert.NotEmpty(reached);
        Assert.NotEmpty(answered);

        // The good worker, sent 1 MiB requests back to back, was slowed at most: never dropped.
        // (Its "was refused a request … or its connection is gone" line is not a drop: "Worker good of refused is gone (…)" is.)
        Assert.False(
            logs.Messages.Any(m => m.StartsWith("Worker good of ", StringComparison.Ordinal) && m.Contains(" is gone (", StringComparison.Ordinal)),
            "the good worker was dropped: " + summary);
    }

    private static byte[] Body(int index)
    {
        var body = new byte[BodySize];
        Encoding.ASCII.GetBytes($"{index:D4}").CopyTo(body, 0);
        return body;
    }

    private static int Index(byte[] body) => int.Parse(Encoding.ASCII.GetString(body, 0, 4), System.Globalization.CultureInfo.InvariantCulture);

    private static async Task<(int Index, string Outcome)> OutcomeAsync(int index, Task<CourierReply> call)
    {
        try
        {
            var reply = await call;
            return (index, reply.Body.Length == BodySize && Index(reply.Body.ToArray()) == index ? "200" : "wrong body");
        }
        catch (CourierOutcomeUnknownException)
        {
            return (index, "520");
        }
        catch (CourierException ex)
        {
            return (index, ex.GetType().Name);
        }
    }
}
