using System.Text;
using Courier.Tests.Infrastructure;
using Courier.Worker;
using NetMQ;
using NetMQ.Sockets;

namespace Courier.Tests.Broker;

/// <summary>A real <see cref="CourierWorker"/> against a broker played by a raw ROUTER socket that speaks courier/3, as brokers before courier/4 do.</summary>
public sealed class WorkerBatchTests
{
    private static readonly TimeSpan Wait = TimeSpan.FromSeconds(10);

    [Theory]
    [InlineData(true)]
    [InlineData(false)]
    public async Task Worker_serves_a_batch_of_requests_and_answers_each_by_its_token(bool inline)
    {
        using var broker = new RouterSocket();
        broker.Options.Linger = TimeSpan.Zero;
        var port = broker.BindRandomPort("tcp://127.0.0.1");
        await using var worker = new CourierWorker(
            // This broker never heartbeats: the worker keeps it for the whole test, not for 3 × 2.5 s. Nor does it answer
            // the probe a stop sends after DISCONNECT: the stop waits for it only a second.
            CourierWorkerOptions.Default with { BrokerEndpoint = $"tcp://127.0.0.1:{port}", Service = "upper", Concurrency = 32, Prefetch = 8, RunHandlersInline = inline, HeartbeatInterval = TimeSpan.FromSeconds(30), DrainTimeout = TimeSpan.FromSeconds(1) },
            (request, _) => ValueTask.FromResult<IReadOnlyList<ReadOnlyMemory<byte>>>(
                request.BodyText == "fail" ? throw new InvalidOperationException("asked to") : [Encoding.UTF8.GetBytes(request.BodyText.ToUpperInvariant())]));
        await worker.StartAsync();

        // A broker from before courier/4 answers courier/2 to an offer it does not know (courier/7); the worker asks again, offering courier/3.
        var probe = Receive(broker, m => m.Count == 5 && m[3] == "mmi.courier" && m[4] == "courier/7");
        broker.SendMultipartMessage(Message(probe.Identity, "", "MDPC01", "mmi.courier", "200", "courier/2"));
        probe = Receive(broker, m => m.Count == 5 && m[3] == "mmi.courier" && m[4] == "courier/3");
        broker.SendMultipartMessage(Message(probe.Identity, "", "MDPC01", "mmi.courier", "200", "courier/3"));
        var ready = Receive(broker, m => m.Count == 6 && m[3] == "\u0001");
        // Its capacity: 32 running and 8 waiting.
        Assert.Equal(("upper", "courier/3 capacity=40"), (ready.Frames[4], ready.Frames[5]));

        var requests = Enumerable.Range(0, 12).Select(i => (1000UL + (ulong)i, "", i == 5 ? "fail" : $"req {i}")).ToList();
        var batch = new NetMQMessage();
        batch.Append(ready.Identity);
        batch.Append(BatchFrames.Build(3, requests));
        broker.SendMultipartMessage(batch);

        var replies = new Dictionary<ulong, (string Status, string Body)>();
        var batches = 0;
        var until = DateTime.UtcNow + Wait;
        while (replies.Count < requests.Count)
        {
            var message = ReceiveBytes(broker, until);
            if (BatchFrames.Is(message[1], 4))
            {
                batches++;
                foreach (var reply in BatchFrames.Parse(message[1]))
                {
                    replies.Add(reply.Id, (reply.Tag, reply.Body));
                }
            }
            else if (message[1].Length == 18 && Encoding.ASCII.GetString(message[1], 0, 6) == "CURW02" && message[1][6] == 3)
            {
                replies.Add(System.Buffers.Binary.BinaryPrimitives.ReadUInt64BigEndian(message[1].AsSpan(7)), (Encoding.ASCII.GetString(message[1], 15, 3), Encoding.UTF8.GetString(message[2])));
            }
        }

        foreach (var (token, _, body) in requests)
        {
            // A failing handler's details stay in the worker's log: the caller gets 500 and the error id that names them.
            var (status, text) = replies[token];
            Assert.Equal(body == "fail" ? "500" : "200", status);
            if (body == "fail")
            {
                Assert.StartsWith("handler failed; error id ", text, StringComparison.Ordinal);
            }
            else
            {
                Assert.Equal(body.ToUpperInvariant(), text);
            }
        }

        if (inline)
        {
            // Handlers that finish at once are all answered before the loop sends: one batch.
            Assert.Equal(1, batches);
        }
    }

    private static NetMQMessage Message(byte[] identity, params string[] frames)
    {
        var message = new NetMQMessage();
        message.Append(identity);
        foreach (var frame in frames)
        {
            message.Append(Encoding.UTF8.GetBytes(frame));
        }

        return message;
    }

    /// <summary>The next message, before <paramref name="until"/>: bounded as a whole, however many heartbeats come meanwhile.</summary>
    private static List<byte[]> ReceiveBytes(RouterSocket socket, DateTime until)
    {
        var frames = new List<byte[]>();
        Assert.True(socket.TryReceiveMultipartBytesBefore(until, ref frames!), "no message from the worker in time");
        return frames;
    }

    /// <summary>The next message whose frames, as text, match <paramref name="match"/>; and its sender's identity.</summary>
    private static (byte[] Identity, List<string> Frames) Receive(RouterSocket socket, Func<List<string>, bool> match)
    {
        // ReceiveBytes fails the test once the deadline has passed.
        var deadline = DateTime.UtcNow + Wait;
        while (true)
        {
            var frames = ReceiveBytes(socket, deadline);
            var text = frames.Select(f => Encoding.UTF8.GetString(f)).ToList();
            if (match(text))
            {
                return (frames[0], text);
            }
        }
    }
}
