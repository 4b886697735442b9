namespace Courier.Tests.Containers.Infrastructure;

/// <summary>
/// The compose file's stacks brought up once, with the README's commands, and put through everything the tests check:
/// three servers behind nginx, the broker with three workers, and the second broker with its two workers, all up
/// together; the read-only checks on them side by side; then the three benches one after another, each with its faults
/// (a server SIGKILLed and another stopped gracefully behind nginx, a worker SIGKILLed, broker-b SIGKILLed); then
/// <c>down</c>, and the secure override's stack (<see cref="SecureStory"/>). Each test asserts its part of what was seen: one stack up instead of one per test took a warm run
/// of the collection from 7 minutes to about 3½ on 2 cores (about 2 since, docs/deploy.md).
/// </summary>
public sealed class ComposeStory
{
    private static readonly TimeSpan Minutes = TimeSpan.FromMinutes(3);

    /// <summary>
    /// Each bench's length: the faults come 3 to 6 s in (later on a starved machine: seen 3 s late), and a client needs
    /// its attempt timeout (5 s) and a retry after a broker's death, so the load goes on past them. Each fault's time is
    /// checked against the load's length (<see cref="FaultedBench.InsideLoad"/>).
    /// </summary>
    private const int LoadSeconds = 13;

    private static readonly string Load = $"{LoadSeconds}s";

    /// <summary>What `courier request --service whoami` answered through nginx: the replicas' names.</summary>
    public required IReadOnlySet<string> ReplicasSeen { get; init; }

    /// <summary>
    /// What the same request answered on the managed transport (NetMQ): the image's assemblies that no native role loads,
    /// left out of ReadyToRun, still run.
    /// </summary>
    public required string ManagedAnswer { get; init; }

    /// <summary>The first process's uid in each container, by service and container id; <c>client</c> for `run`'s.</summary>
    public required IReadOnlyList<(string Service, string Id, int Uid)> Uids { get; init; }

    /// <summary>Each long-running container's memory limit as its cgroup says, in bytes (a number past any machine's: none).</summary>
    public required IReadOnlyList<(string Service, string Id, long Bytes)> MemoryLimits { get; init; }

    /// <summary>The bench through nginx, during which one server was SIGKILLed and another stopped gracefully.</summary>
    public required FaultedBench Nginx { get; init; }

    /// <summary>The bench through the broker, during which a worker was SIGKILLed.</summary>
    public required FaultedBench Broker { get; init; }

    /// <summary>The bench over both brokers, during which broker-b was SIGKILLed.</summary>
    public required FaultedBench TwoBrokers { get; init; }

    /// <summary>What the engine still listed of the compose project after <c>down</c>: containers, networks, volumes.</summary>
    public required (string[] Containers, string[] Networks, string[] Volumes) LeftAfterDown { get; init; }

    /// <summary>What the engine listed of the project before <c>down</c> (so that "nothing left" means something).</summary>
    public required (string[] Containers, string[] Networks) BeforeDown { get; init; }

    /// <summary>The secure override's stack, brought up once the plain ones are down (<see cref="SecureStory"/>).</summary>
    public required SecureStory Secure { get; init; }

    /// <summary>
    /// Brings the stacks up, then waits for <paramref name="quiet"/> (the Kubernetes story, which starts its pods beside
    /// this one's) before the benches: loads beside it starved its pods' health checks.
    /// </summary>
    public static async Task<ComposeStory> RunAsync(ComposeFixture stack, StoryLog log, Task quiet)
    {
        var story = new Runner(stack, log);
        var clock = System.Diagnostics.Stopwatch.StartNew();

        // The servers' `up` makes the project's network first; the brokers' waits for it, as two would race to make
        // it. The broker's `up` goes last: it shares `broker` with the two-broker one. Compose itself waits for the
        // health checks that the depends_on lines name.
        var servers = stack.ComposeOkAsync(Minutes, Commands.UpServers);
        await story.NetworkMadeAsync(servers);
        await stack.ComposeOkAsync(Minutes, Commands.UpTwoBrokers);
        log.Line($"compose: two brokers up after {clock.Elapsed.TotalSeconds:F1} s");
        await stack.ComposeOkAsync(Minutes, Commands.UpBroker);
        log.Line($"compose: broker up after {clock.Elapsed.TotalSeconds:F1} s");
        await servers;
        log.Line($"compose: servers up after {clock.Elapsed.TotalSeconds:F1} s");

        // The servers were healthy before nginx started (depends_on): the replicas can answer through it while the rest
        // of the stack turns healthy.
        var replicas = story.ReplicasAsync();
        await Task.WhenAll(
            stack.WaitHealthyAsync("server", 3), stack.WaitHealthyAsync("nginx", 1), stack.WaitHealthyAsync("broker", 1),
            stack.WaitHealthyAsync("worker", 3), stack.WaitHealthyAsync("broker-b", 1), stack.WaitHealthyAsync("ha-worker", 2));
        log.Line($"compose: every service up and healthy after {clock.Elapsed.TotalSeconds:F1} s");

        var containers = story.LongRunningContainersAsync();
        var uids = story.UidsAsync(containers);
        var memory = story.MemoryLimitsAsync(containers);
        await Task.WhenAll(replicas, uids, memory);
        log.Line($"compose: replicas seen through nginx: {string.Join(", ", replicas.Result.Replicas)} ({clock.Elapsed.TotalSeconds:F1} s)");

        // The three loads one after another, each with its faults placed inside it. Side by side they took about as
        // long (their containers started 10 to 20 s apart anyway), but on 2 cores each starved the others: in about one
        // run of five a bench's requests all timed out (one two-broker bench got 665 req/s for 35 s).
        await quiet.ContinueWith(_ => { }, TaskScheduler.Default);
        log.Line($"compose: the benches start after {clock.Elapsed.TotalSeconds:F1} s");
        var replicaIds = await stack.ContainersAsync("server");
        var nginx = await story.BenchAsync(
            "nginx", Commands.NoTerminal(Commands.WithDuration(Commands.Bench, Load)), "client",
            new Fault(3, replicaIds[0], Graceful: false), new Fault(6, replicaIds[1], Graceful: true));
        var broker = await story.BenchAsync(
            "broker", Commands.NoTerminal(Commands.WithDuration(Commands.BrokerBench, Load)), "broker-client",
            new Fault(4, (await stack.ContainersAsync("worker"))[0], Graceful: false));
        var twoBrokers = await story.BenchAsync(
            "two brokers", Commands.NoTerminal(Commands.WithDuration(Commands.TwoBrokerBench, Load)), "ha-client",
            new Fault(4, (await stack.ContainersAsync("broker-b"))[0], Graceful: false));
        log.Line($"compose: benches done after {clock.Elapsed.TotalSeconds:F1} s");

        var before = (await story.LeftAsync("ps", "-a"), await story.LeftAsync("network", "ls"));
        await stack.ComposeOkAsync(Minutes, Commands.Down);
        var left = (await story.LeftAsync("ps", "-a"), await story.LeftAsync("network", "ls"), await story.LeftAsync("volume", "ls"));
        log.Line($"compose: down after {clock.Elapsed.TotalSeconds:F1} s");
        var secure = await SecureStory.RunAsync(stack, log);

        return new ComposeStory
        {
            ReplicasSeen = replicas.Result.Replicas,
            ManagedAnswer = replicas.Result.Managed,
            Uids = [.. uids.Result, ("client", "run", replicas.Result.ClientUid)],
            MemoryLimits = memory.Result,
            Nginx = nginx,
            Broker = broker,
            TwoBrokers = twoBrokers,
            BeforeDown = before,
            LeftAfterDown = left,
            Secure = secure,
        };
    }

    /// <summary>The real uid of the container's first process (for nginx, its master process).</summary>
    public static async Task<int> ProcessUidAsync(ComposeFixture stack, string id)
    {
        var status = await stack.EngineOkAsync(Minutes, "exec", id, "cat", "/proc/1/status");
        var uidLine = status.Split('\n').Single(l => l.StartsWith("Uid:", StringComparison.Ordinal));
        return int.Parse(uidLine.Split('\t', StringSplitOptions.RemoveEmptyEntries)[1], System.Globalization.CultureInfo.InvariantCulture);
    }

    /// <summary>The steps, on the fixture's engine, each telling the log what it saw.</summary>
    private sealed class Runner(ComposeFixture stack, StoryLog log)
    {
        /// <summary>The services that stay up (the clients run once and leave).</summary>
        private static readonly string[] LongRunning = ["server", "nginx", "broker", "worker", "broker-b", "ha-worker"];

        private readonly ComposeFixture _stack = stack;
        private readonly StoryLog _log = log;

        /// <summary>Waits until the project's network exists (or <paramref name="making"/> ended: it failed, or it made it).</summary>
        public async Task NetworkMadeAsync(Task making)
        {
            while (!making.IsCompleted && (await LeftAsync("network", "ls")).Length == 0)
            {
                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }
        }

        /// <summary>
        /// Fresh connections through nginx (least_conn) from one client container, until three replicas answered;
        /// and that container's uid (a `run` of its own would cost seconds).
        /// </summary>
        public async Task<(IReadOnlySet<string> Replicas, int ClientUid, string Managed)> ReplicasAsync()
        {
            // --transport Native fails unless the image's libzmq loads; one request on the managed transport last. These
            // run while the rest of the stack (and the Kubernetes story) starts on the same 2 cores: 10 s an attempt, not
            // 2.5 (one fresh-clone CI run had a first request time out after 4 attempts in 10 s; a rerun passed).
            var request = "courier " + string.Join(' ', Commands.Whoami[3..]) + " --timeout 10s";
            var whoami = await _stack.ComposeOkAsync(
                Minutes, "run", "--rm", "-T", "--entrypoint", "sh", "client", "-c",
                "echo \"uid $(id -u)\"; seen=''; for i in $(seq 30); do id=$(" + request + " --transport Native) || exit 1; "
                + "echo \"$id\"; case \" $seen \" in *\" $id \"*) ;; *) seen=\"$seen $id\" ;; esac; [ $(echo $seen | wc -w) -ge 3 ] && break; done; "
                + "id=$(" + request + " --transport Managed) || exit 1; echo \"managed $id\"");
            var lines = whoami.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
            var uid = lines.Single(l => l.StartsWith("uid ", StringComparison.Ordinal));
            var managed = lines.Single(l => l.StartsWith("managed ", StringComparison.Ordinal));
            return (lines.Where(l => l != uid && l != managed).ToHashSet(), int.Parse(uid[4..], System.Globalization.CultureInfo.InvariantCulture), managed["managed ".Length..]);
        }

        /// <summary>Each long-running container, by service.</summary>
        public async Task<(string Service, string Id)[]> LongRunningContainersAsync()
        {
            var ids = await Task.WhenAll(LongRunning.Select(async s => (await _stack.ContainersAsync(s)).Select(id => (s, id))));
            return [.. ids.SelectMany(x => x)];
        }

        public async Task<IReadOnlyList<(string, string, int)>> UidsAsync(Task<(string Service, string Id)[]> containers)
            => await Task.WhenAll((await containers).Select(async x => (x.Service, x.Id, await ProcessUidAsync(_stack, x.Id))));

        public async Task<IReadOnlyList<(string, string, long)>> MemoryLimitsAsync(Task<(string Service, string Id)[]> containers)
            => await Task.WhenAll((await containers).Select(async x =>
            {
                // cgroup v1 (this machine) or v2.
                var limit = await _stack.EngineOkAsync(Minutes, "exec", x.Id, "sh", "-c",
                    "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max");
                return (x.Service, x.Id, limit.Trim() == "max" ? long.MaxValue : long.Parse(limit.Trim(), System.Globalization.CultureInfo.InvariantCulture));
            }));

        public async Task<FaultedBench> BenchAsync(string name, string[] command, string service, params Fault[] faults)
        {
            var run = _stack.ComposeAsync(Minutes, command);
            var deadline = DateTime.UtcNow + TimeSpan.FromMinutes(2);
            while ((await ServiceContainersAsync(service)).Length == 0)
            {
                if (run.IsCompleted || DateTime.UtcNow > deadline)
                {
                    var early = await run;
                    throw new InvalidOperationException($"{name}: the bench's container did not start or ended first:\n{early.Output}");
                }

                await Task.Delay(TimeSpan.FromMilliseconds(200));
            }

            var started = DateTime.UtcNow;
            _log.Line($"{name}: the bench's container runs");
            var exits = new List<(Fault, int, double)>();
            var applied = new List<double>();
            foreach (var fault in faults)
            {
                // Not a wait for a condition: it places the fault inside the load rather than at its very start.
                var wait = started + TimeSpan.FromSeconds(fault.AfterSeconds) - DateTime.UtcNow;
                if (wait > TimeSpan.Zero)
                {
                    await Task.Delay(wait);
                }

                // SIGTERM (`stop`): the server refuses new work and drains what it has within the grace period. A container
                // killed or stopped through the engine counts as stopped by hand: its restart policy leaves it down. The
                // fault's time is when it was sent (a graceful stop returns once drained).
                applied.Add((DateTime.UtcNow - started).TotalSeconds);
                await (fault.Graceful
                    ? _stack.EngineOkAsync(Minutes, "stop", "--time", "15", fault.Victim)
                    : _stack.EngineOkAsync(Minutes, "kill", "--signal", "KILL", fault.Victim));
                _log.Line($"{name}: {(fault.Graceful ? "stopped" : "killed")} {fault.Victim[..12]} at {applied[^1]:F1} s (done at {(DateTime.UtcNow - started).TotalSeconds:F1} s)");
            }

            var result = await run;
            _log.Line($"{name}: the bench exited {result.ExitCode}, {(DateTime.UtcNow - started).TotalSeconds:F1} s after its container ran");
            if (result.ExitCode != 0)
            {
                throw new InvalidOperationException($"{name}: the bench exited {result.ExitCode}:\n{result.Output}");
            }

            for (var i = 0; i < faults.Length; i++)
            {
                var code = await _stack.EngineOkAsync(Minutes, "inspect", "--format", "{{.State.Status}} {{.State.ExitCode}}", faults[i].Victim);
                exits.Add((faults[i], int.Parse(code.Trim().Split(' ')[^1], System.Globalization.CultureInfo.InvariantCulture), applied[i]));
            }

            var bench = new FaultedBench(BenchResult.Parse(result.Stdout), exits, LoadSeconds);
            _log.Line($"{name}: {bench}");
            if (bench.Result.Errors > 0)
            {
                // What the client logged (its connections judged dead, refusals): the errors' story, for the failure.
                var lines = result.Stderr.Split('\n', StringSplitOptions.RemoveEmptyEntries);
                _log.Line($"{name}: the client's last {Math.Min(40, lines.Length)} log lines:\n  {string.Join("\n  ", lines.TakeLast(40))}");
            }
            return bench;
        }

        /// <summary>The service's containers, `run`'s one-off ones included, as the engine lists them.</summary>
        private Task<string[]> ServiceContainersAsync(string service)
            => LeftAsync("ps", "--filter", "label=com.docker.compose.service=" + service);

        /// <summary>What the engine still has of the compose project (docker-compose labels everything it makes).</summary>
        public Task<string[]> LeftAsync(params string[] list)
            => _stack.EngineLinesAsync(Minutes, [.. list, "-q", "--filter", "label=com.docker.compose.project=courier-test"]);
    }
}

/// <summary>A fault: the victim container SIGKILLed, or stopped gracefully (SIGTERM), that many seconds into the load.</summary>
public sealed record Fault(int AfterSeconds, string Victim, bool Graceful);

/// <summary>
/// A bench's result, each victim's exit code once the bench ended and when its fault was sent (seconds after the
/// bench's container ran), and the load's length.
/// </summary>
public sealed record FaultedBench(BenchResult Result, IReadOnlyList<(Fault Fault, int ExitCode, double AtSeconds)> Victims, int LoadSeconds)
{
    /// <summary>
    /// Whether every fault came with at least 4 s of load still to run after it. The load starts after the container
    /// does, so it ends no earlier than <see cref="LoadSeconds"/> after it: a bound on the safe side. (Not the bench's
    /// exit: it waits for requests a fault held up, up to their attempt timeout.)
    /// </summary>
    public bool InsideLoad => Victims.All(v => v.AtSeconds + 4 <= LoadSeconds);

    public override string ToString()
        => $"{Result}; victims: {string.Join(", ", Victims.Select(v => $"{v.Fault.Victim[..12]} {(v.Fault.Graceful ? "stopped" : "killed")} exited {v.ExitCode}"))}";
}
