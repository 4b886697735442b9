using BenchmarkDotNet.Attributes;
using Courier.Broker;
using Courier.Client;
using Courier.Server;
using Courier.Transport;
using Courier.Worker;

namespace Courier.Benchmarks;

/// <summary>
/// Client hot path end to end on loopback: one request at a time, and a batch of 100 pipelined, direct to a server and
/// through a broker to a worker. Allocations per operation show what the client, server, broker and worker cost.
/// </summary>
[MemoryDiagnoser]
public class RoundTripBenchmarks
{
    private readonly ReadOnlyMemory<byte> _payload = new byte[64];
    private CourierServer? _server;
    private CourierBroker? _broker;
    private CourierWorker? _worker;
    private CourierClient? _direct;
    private CourierClient? _brokered;

    [Params(TransportImplementation.Native, TransportImplementation.Managed)]
    public TransportImplementation Transport { get; set; }

    [GlobalSetup]
    public async Task SetupAsync()
    {
        var transport = TransportOptions.Default with { Implementation = Transport };
        _server = new CourierServer(CourierServerOptions.Default with { Endpoint = "tcp://127.0.0.1:*", Transport = transport });
        await _server.StartAsync();
        _broker = new CourierBroker(CourierBrokerOptions.Default with { Endpoint = "tcp://127.0.0.1:*", Transport = transport });
        await _broker.StartAsync();
        _worker = new CourierWorker(CourierWorkerOptions.Default with { BrokerEndpoint = _broker.Endpoint!, Transport = transport }, CourierServices.Echo);
        await _worker.StartAsync();
        _direct = new CourierClient(CourierClientOptions.Default with { Endpoints = [_server.Endpoint!], Transport = transport });
        _brokered = new CourierClient(CourierClientOptions.Default with { Endpoints = [_broker.Endpoint!], Transport = transport, Timeout = TimeSpan.FromSeconds(10) });
        await _direct.RequestAsync("echo", _payload);
        await _brokered.RequestAsync("echo", _payload); // waits for the worker to register
    }

    [GlobalCleanup]
    public async Task CleanupAsync()
    {
        await _direct!.DisposeAsync();
        await _brokered!.DisposeAsync();
        await _worker!.DisposeAsync();
        await _broker!.DisposeAsync();
        await _server!.DisposeAsync();
    }

    [Benchmark]
    public Task<CourierReply> DirectOneAtATime() => _direct!.RequestAsync("echo", _payload);

    [Benchmark(OperationsPerInvoke = 100)]
    public Task DirectPipelined100() => Task.WhenAll(Enumerable.Range(0, 100).Select(_ => _direct!.RequestAsync("echo", _payload)));

    [Benchmark]
    public Task<CourierReply> BrokeredOneAtATime() => _brokered!.RequestAsync("echo", _payload);

    [Benchmark(OperationsPerInvoke = 100)]
    public Task BrokeredPipelined100() => Task.WhenAll(Enumerable.Range(0, 100).Select(_ => _brokered!.RequestAsync("echo", _payload)));
}
