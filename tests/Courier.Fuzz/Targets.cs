using Courier.Broker;
using Courier.Broker.Internal;
using Courier.Server;
using Courier.Server.Internal;
using Courier.Worker;
using Courier.Worker.Internal;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace Courier.Fuzz;

/// <summary>A <c>courier server</c>'s engine, fed what clients send: every request form, batches, 8/MMI.</summary>
internal sealed class ServerTarget : EngineTarget
{
    private static readonly Dictionary<string, CourierHandler> Handlers = new()
    {
        [CourierServices.EchoName] = CourierServices.Echo,
        [CourierServices.WhoAmIName] = CourierServices.WhoAmI("fuzz"),
        ["fail"] = static (_, _) => throw new InvalidOperationException("a handler that fails"),
    };

    private static readonly HashSet<string> Idempotent = [CourierServices.EchoName, CourierServices.WhoAmIName];

    public override string Name => "server";

    public override void Run(IReadOnlyList<FuzzStep> steps, bool checkAmplification)
    {
        var clock = new FakeTimeProvider();
        var loop = new MemoryLoop();
        var options = CourierServerOptions.Default with { Name = "fuzz", RunHandlersInline = true, MaxRequestSize = 64 * 1024, TimeProvider = clock };
        using var engine = new ServerEngine(options, options.Transport, Handlers, Idempotent, loop.Inner, NullLogger.Instance, security: null);
        var (bytesIn, messagesIn) = PlayToRouter(
            steps, loop, loop.Sockets[0].Handler, peer => clock.Advance(TimeSpan.FromMilliseconds(100 * (peer + 1))), engine.OnTurnEnd);
        CheckAmplification(loop, bytesIn, messagesIn, checkAmplification);
    }
}

/// <summary>A <c>courier broker</c>'s engine, fed what clients and workers send on its one socket.</summary>
internal sealed class BrokerTarget : EngineTarget
{
    public override string Name => "broker";

    public override void Run(IReadOnlyList<FuzzStep> steps, bool checkAmplification)
    {
        var clock = new FakeTimeProvider();
        var loop = new MemoryLoop();
        var options = CourierBrokerOptions.Default with { MaxRequestSize = 64 * 1024, MaxQueuedPerService = 64, TimeProvider = clock };
        var engine = new BrokerEngine(options, loop.Inner, NullLogger.Instance, security: null);
        var (bytesIn, messagesIn) = PlayToRouter(steps, loop, engine, peer =>
        {
            clock.Advance(TimeSpan.FromSeconds(peer + 1));
            engine.OnTick();
        }, engine.OnTurnEnd);

        // Heartbeats to registered workers are sent on ticks whatever the peers sent: allow one per worker per tick.
        var ticks = steps.Count(s => s.Kind == StepKind.Tick);
        CheckAmplification(loop, bytesIn, messagesIn + (ticks * FuzzInput.Peers), checkAmplification);
    }
}

/// <summary>A <c>courier worker</c>'s engine, fed what a (hostile) broker sends it.</summary>
internal sealed class WorkerTarget : EngineTarget
{
    private static readonly CourierHandler Fail = static (_, _) => throw new InvalidOperationException("a handler that fails");

    public override string Name => "worker";

    public override void Run(IReadOnlyList<FuzzStep> steps, bool checkAmplification)
    {
        var clock = new FakeTimeProvider();
        var loop = new MemoryLoop();
        var options = CourierWorkerOptions.Default with { Name = "fuzz", RunHandlersInline = true, TimeProvider = clock };
        WorkerService[] services =
        [
            new(CourierServices.EchoName, CourierServices.Echo, 4),
            new("fail", Fail, 1),
        ];
        using var engine = new WorkerEngine(options, services, loop.Inner, NullLogger.Instance);
        engine.Connect();
        foreach (var step in steps)
        {
            // Whatever connection the worker holds now (it replaces it on reconnect) gets the broker's message.
            var socket = loop.Sockets.LastOrDefault(s => !s.Disposed);
            switch (step.Kind)
            {
                case StepKind.Message when socket is not null:
                    socket.Handler.OnMessage(Frames(null, step.Frames));
                    break;
                case StepKind.Tick:
                    clock.Advance(TimeSpan.FromSeconds(step.Peer + 1));
                    engine.OnTick();
                    break;
                case StepKind.Disconnect:
                    engine.BeginDrain();
                    break;
            }

            loop.RunPosted();
            engine.OnTurnEnd();
        }
    }
}
