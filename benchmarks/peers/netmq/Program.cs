// The reference workload on bare NetMQ: the ceiling of the library Courier's managed transport builds on.
// Each role is its own process (benchmarks/peers/run starts them):
//   NetMqPeer broker                                    ROUTER front, DEALER back, NetMQ Proxy; prints "ready FE BE"
//   NetMqPeer worker BACKEND                            ResponseSocket echo of whole messages; prints "ready"
//   NetMqPeer server                                    RouterSocket echo of whole messages, no broker (run's
//                                                       TOPOLOGY direct and nginx); prints "ready ENDPOINT"
//   NetMqPeer client FRONTEND CLIENTS INFLIGHT SECONDS SIZE [WARMUP]
//                                                       CLIENTS DealerSockets (one thread each), INFLIGHT requests
//                                                       pipelined on each; prints one JSON line of the SECONDS
//                                                       after WARMUP seconds of the same load (default 0)
// A request is ["", body] with its send time in the body's first 8 bytes: one frame per request through the proxy, as
// a DEALER client of any broker sends. Bodies under 8 bytes have no room for it: they go as [send time, "", body],
// since REP sends every frame before the empty delimiter back as the envelope. SIZE may be 0 bytes or many MiB.
using System.Diagnostics;
using System.Globalization;
using NetMQ;
using NetMQ.Sockets;

switch (args)
{
    case ["broker"]:
        using (var front = new RouterSocket())
        using (var back = new DealerSocket())
        {
            var fe = front.BindRandomPort("tcp://127.0.0.1");
            var be = back.BindRandomPort("tcp://127.0.0.1");
            Console.WriteLine($"ready tcp://127.0.0.1:{fe} tcp://127.0.0.1:{be}");
            new Proxy(front, back).Start(); // runs until the process is killed
        }

        return 1;
    case ["worker", var backend]:
        using (var socket = new ResponseSocket())
        {
            socket.Connect(backend);
            Console.WriteLine("ready");
            var frame = default(Msg); // each frame is received and sent back as is
            frame.InitEmpty();
            while (true)
            {
                socket.Receive(ref frame);
                socket.Send(ref frame, frame.HasMore);
            }
        }

    case ["server"]:
        using (var socket = new RouterSocket())
        {
            // As the broker's: a ROUTER drops replies silently at its high-water mark.
            socket.Options.SendHighWatermark = 0;
            socket.Options.ReceiveHighWatermark = 0;
            var port = socket.BindRandomPort("tcp://127.0.0.1");
            Console.WriteLine($"ready tcp://127.0.0.1:{port}");
            var frame = default(Msg); // routing id first: echoed as it came, the reply goes back to its sender
            frame.InitEmpty();
            while (true)
            {
                socket.Receive(ref frame);
                socket.Send(ref frame, frame.HasMore);
            }
        }

    case ["client", var frontend, var c, var k, var t, var z, .. var w] when w.Length <= 1:
        return Client(
            frontend, int.Parse(c, CultureInfo.InvariantCulture), int.Parse(k, CultureInfo.InvariantCulture),
            double.Parse(t, CultureInfo.InvariantCulture), int.Parse(z, CultureInfo.InvariantCulture),
            w.Length == 1 ? double.Parse(w[0], CultureInfo.InvariantCulture) : 0);
    default:
        Console.Error.WriteLine("usage: NetMqPeer broker | worker BACKEND | server | client FRONTEND CLIENTS INFLIGHT SECONDS SIZE [WARMUP]");
        return 2;
}

static int Client(string frontend, int clients, int inflight, double seconds, int size, double warmup)
{
    var latencies = new List<long>[clients];
    var errors = new long[clients];
    // The measured window starts after the warm-up: replies before it are not counted.
    var started = Stopwatch.GetTimestamp() + (long)(warmup * Stopwatch.Frequency);
    var end = started + (long)(seconds * Stopwatch.Frequency);
    var threads = Enumerable.Range(0, clients).Select(i => new Thread(() =>
    {
        using var socket = new DealerSocket();
        socket.Connect(frontend);
        var list = latencies[i] = new List<long>(1 << 16);
        var body = new byte[size];
        var stamp = new byte[8];
        var inBody = size >= stamp.Length; // where the send time travels
        void Send()
        {
            if (inBody)
            {
                BitConverter.TryWriteBytes(body, Stopwatch.GetTimestamp());
                socket.SendMoreFrameEmpty().SendFrame(body);
            }
            else
            {
                BitConverter.TryWriteBytes(stamp, Stopwatch.GetTimestamp());
                socket.SendMoreFrame(stamp).SendMoreFrameEmpty().SendFrame(body);
            }
        }

        for (var j = 0; j < inflight; j++)
        {
            Send();
        }

        var outstanding = inflight;
        var reply = default(Msg);
        reply.InitEmpty();
        while (outstanding > 0)
        {
            // A lost request would otherwise hang the drain: after 2 s of silence the rest count as errors.
            if (!socket.TryReceiveFrameBytes(TimeSpan.FromSeconds(2), out var first) || first.Length != (inBody ? 0 : 8))
            {
                break;
            }

            if (!inBody)
            {
                socket.SkipFrame(); // the empty delimiter
            }

            socket.Receive(ref reply);
            outstanding--;
            var now = Stopwatch.GetTimestamp();
            if (reply.Size != size)
            {
                errors[i]++;
            }
            else if (now >= started)
            {
                list.Add(now - BitConverter.ToInt64(inBody ? reply.Slice() : first));
            }

            if (now < end)
            {
                Send();
                outstanding++;
            }
        }

        errors[i] += outstanding;
        reply.Close();
        socket.Options.Linger = TimeSpan.Zero;
    })).ToArray();
    foreach (var thread in threads)
    {
        thread.Start();
    }

    foreach (var thread in threads)
    {
        thread.Join();
    }

    var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
    Console.WriteLine(Report.Json(latencies, errors.Sum(), elapsed));
    NetMQConfig.Cleanup(block: false);
    return latencies.Sum(l => l.Count) > 0 ? 0 : 3;
}
