// The reference workload on NATS: what a .NET user would pick instead of a ZeroMQ broker. nats-server is the broker
// (benchmarks/peers/run starts it); each other role is its own process:
//   NatsPeer worker URL                                  queue-group subscriber that echoes each request; prints "ready"
//   NatsPeer client URL CLIENTS INFLIGHT SECONDS SIZE [WARMUP]
//                                                        CLIENTS connections, each with INFLIGHT concurrent
//                                                        RequestAsync loops; prints one JSON line of the SECONDS
//                                                        after WARMUP seconds of the same load (default 0)
using System.Diagnostics;
using System.Globalization;
using NATS.Client.Core;

const string Subject = "bench.echo";

switch (args)
{
    case ["worker", var url]:
        return await WorkerAsync(url);
    case ["client", var url, var c, var k, var t, var z, .. var w] when w.Length <= 1:
        return await ClientAsync(
            url, int.Parse(c, CultureInfo.InvariantCulture), int.Parse(k, CultureInfo.InvariantCulture),
            double.Parse(t, CultureInfo.InvariantCulture), int.Parse(z, CultureInfo.InvariantCulture),
            w.Length == 1 ? double.Parse(w[0], CultureInfo.InvariantCulture) : 0);
    default:
        Console.Error.WriteLine("usage: NatsPeer worker URL | client URL CLIENTS INFLIGHT SECONDS SIZE [WARMUP]");
        return 2;
}

static async Task<int> WorkerAsync(string url)
{
    await using var connection = new NatsConnection(NatsOpts.Default with { Url = url });
    // A queue group: nats-server hands each request to one of the workers, as a broker would.
    await using var subscription = await connection.SubscribeCoreAsync<byte[]>(Subject, queueGroup: "echo");
    await connection.PingAsync(); // the server has seen the subscription once it answers
    Console.WriteLine("ready");
    await foreach (var request in subscription.Msgs.ReadAllAsync())
    {
        await request.ReplyAsync(request.Data ?? []);
    }

    return 1;
}

static async Task<int> ClientAsync(string url, int clients, int inflight, double seconds, int size, double warmup)
{
    var connections = new NatsConnection[clients];
    for (var i = 0; i < clients; i++)
    {
        connections[i] = new NatsConnection(NatsOpts.Default with { Url = url });
        await connections[i].ConnectAsync();
    }

    var body = new byte[size];
    // The measured window starts after the warm-up: replies before it are not counted.
    var started = Stopwatch.GetTimestamp() + (long)(warmup * Stopwatch.Frequency);
    var end = started + (long)(seconds * Stopwatch.Frequency);
    var loops = connections.SelectMany(connection => Enumerable.Range(0, inflight).Select(_ => LoopAsync(connection))).ToArray();
    var results = await Task.WhenAll(loops);
    var elapsed = Stopwatch.GetElapsedTime(started).TotalSeconds;
    Console.WriteLine(Report.Json(results.Select(r => r.Latencies), results.Sum(r => r.Errors), elapsed));
    foreach (var connection in connections)
    {
        await connection.DisposeAsync();
    }

    return results.Sum(r => r.Latencies.Count) > 0 ? 0 : 3;

    // One request at a time, until the end; each loop keeps its own figures (no lock, no shared list).
    async Task<(List<long> Latencies, long Errors)> LoopAsync(NatsConnection connection)
    {
        await Task.Yield(); // let every loop start before any runs
        var latencies = new List<long>(1 << 12);
        long errors = 0;
        while (Stopwatch.GetTimestamp() < end)
        {
            var sent = Stopwatch.GetTimestamp();
            try
            {
                var reply = await connection.RequestAsync<byte[], byte[]>(Subject, body);
                var now = Stopwatch.GetTimestamp();
                if ((reply.Data?.Length ?? 0) != size)
                {
                    errors++;
                }
                else if (now >= started)
                {
                    latencies.Add(now - sent);
                }
            }
            catch (NatsException)
            {
                errors++;
            }
        }

        return (latencies, errors);
    }
}
