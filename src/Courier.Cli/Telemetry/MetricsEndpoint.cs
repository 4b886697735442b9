using System.Net;
using System.Net.Sockets;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using OpenTelemetry.Metrics;

namespace Courier.Cli.Telemetry;

/// <summary>
/// The Prometheus scrape endpoint, <c>GET /metrics</c>, on Kestrel with limits a hostile peer meets: at most
/// <see cref="MaxConnections"/> connections (past it one is accepted and closed at once), the request's headers within
/// <see cref="HeadersTimeout"/> and <see cref="MaxHeaderBytes"/> however slowly they come, an idle kept-alive connection
/// closed after <see cref="IdleTimeout"/>, HTTP/1.1 only. OpenTelemetry's own listener (HttpListener) had none of
/// these: a connection that sent a byte was kept for good and headers trickled in line by line grew without bound.
/// </summary>
internal sealed class MetricsEndpoint : IAsyncDisposable
{
    /// <summary>Scrapers are one or two Prometheus servers, each with one connection kept alive; the rest is headroom.</summary>
    public const int MaxConnections = 16;

    /// <summary>A scrape request is a few hundred bytes of headers.</summary>
    public const int MaxHeaderBytes = 8 * 1024;

    /// <summary>A scraper sends its headers at once; a peer still sending them after this is closed.</summary>
    public static readonly TimeSpan HeadersTimeout = TimeSpan.FromSeconds(10);

    /// <summary>Longer than Prometheus' usual scrape interval (15 s), so a scraper's connection is reused.</summary>
    public static readonly TimeSpan IdleTimeout = TimeSpan.FromSeconds(30);

    private readonly WebApplication _app;

    private MetricsEndpoint(WebApplication app, string url)
    {
        _app = app;
        Url = url;
    }

    /// <summary><c>http://HOST:PORT/metrics</c>, the port the kernel chose when asked for port 0.</summary>
    public string Url { get; }

    /// <summary>
    /// Serves <paramref name="meters"/> (built with <c>AddPrometheusExporter</c>) on <paramref name="host"/>:
    /// 0.0.0.0 (or * or +) for every interface, localhost, an address, or a name resolved once here; port 0 for any free port.
    /// </summary>
    public static async Task<MetricsEndpoint> StartAsync(MeterProvider meters, string host, int port, CancellationToken cancellationToken = default)
    {
        var any = host is "0.0.0.0" or "*" or "+";
        var address = any ? null : await AddressOfAsync(host, cancellationToken).ConfigureAwait(false);
        var builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { Args = [] });
        // Kestrel logs each connection refused past the limit: not into the process's log, which an attacker would fill.
        builder.Logging.ClearProviders();
        builder.WebHost.ConfigureKestrel(kestrel =>
        {
            kestrel.AddServerHeader = false;
            kestrel.Limits.MaxConcurrentConnections = MaxConnections;
            kestrel.Limits.MaxConcurrentUpgradedConnections = 0;
            kestrel.Limits.MaxRequestHeadersTotalSize = MaxHeaderBytes;
            kestrel.Limits.MaxRequestLineSize = MaxHeaderBytes;
            kestrel.Limits.MaxRequestHeaderCount = 32;
            kestrel.Limits.MaxRequestBodySize = 0;
            kestrel.Limits.RequestHeadersTimeout = HeadersTimeout;
            kestrel.Limits.KeepAliveTimeout = IdleTimeout;
            void Http1(ListenOptions listen) => listen.Protocols = HttpProtocols.Http1;
            if (address is null)
            {
                kestrel.ListenAnyIP(port, Http1);
            }
            else
            {
                kestrel.Listen(address, port, Http1);
            }
        });
        builder.Services.AddSingleton(meters);
        var app = builder.Build();
        app.UseOpenTelemetryPrometheusScrapingEndpoint(meters, predicate: null, path: "/metrics", configureBranchedPipeline: null, optionsName: null);
        try
        {
            await app.StartAsync(cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            await app.DisposeAsync().ConfigureAwait(false);
            throw;
        }

        var bound = app.Services.GetRequiredService<IServer>().Features.GetRequiredFeature<IServerAddressesFeature>().Addresses.First();
        var shown = any ? "0.0.0.0" : host.Contains(':', StringComparison.Ordinal) && !host.StartsWith('[') ? $"[{host}]" : host;
        return new MetricsEndpoint(app, $"http://{shown}:{new Uri(bound).Port}/metrics");
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync(CancellationToken.None).ConfigureAwait(false);
        await _app.DisposeAsync().ConfigureAwait(false);
    }

    private static async Task<IPAddress> AddressOfAsync(string host, CancellationToken cancellationToken)
    {
        if (IPAddress.TryParse(host.Trim('[', ']'), out var address))
        {
            return address;
        }

        var addresses = await Dns.GetHostAddressesAsync(host, cancellationToken).ConfigureAwait(false);
        return addresses.FirstOrDefault(a => a.AddressFamily == AddressFamily.InterNetwork) ?? addresses.FirstOrDefault()
            ?? throw new InvalidOperationException($"{host} has no address");
    }
}
