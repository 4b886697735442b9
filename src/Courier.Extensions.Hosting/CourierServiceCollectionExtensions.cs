using Courier.Broker;
using Courier.Client;
using Courier.Extensions.Hosting;
using Courier.Extensions.Hosting.Health;
using Courier.Extensions.Hosting.Internal;
using Courier.Server;
using Courier.Worker;
using Microsoft.Extensions.Hosting;
using Microsoft.Extensions.Logging;

// The namespace of IServiceCollection, as Microsoft's own Add* extensions use: they show up where services are added.
namespace Microsoft.Extensions.DependencyInjection;

/// <summary>
/// Courier in a generic host. Each <c>AddCourier…</c> reads its options from a configuration section (<c>Courier:Client</c>,
/// <c>Courier:Server</c>, <c>Courier:Worker</c>, <c>Courier:Broker</c>; a named one from <c>Courier:Clients:NAME</c> and so
/// on), applies the configure delegate, validates the result when the host starts (failing the start with the options'
/// own message), and ties the part's life to the host's.
/// </summary>
public static class CourierServiceCollectionExtensions
{
    // RS0026: every Add has a name-less and a named form, each with the configure delegate optional and last.
#pragma warning disable RS0026

    /// <summary>
    /// Registers the default <see cref="ICourierClient"/> (and <see cref="CourierClient"/>), a singleton that many callers
    /// share, disposed with the host. Options: section <c>Courier:Client</c>, then <paramref name="configure"/>.
    /// </summary>
    public static CourierClientBuilder AddCourierClient(this IServiceCollection services, Func<CourierClientOptions, CourierClientOptions>? configure = null)
        => AddClient(services, "", "Courier:Client", configure);

    /// <summary>
    /// Registers a named <see cref="ICourierClient"/> as a keyed singleton (<c>[FromKeyedServices("NAME")] ICourierClient</c>).
    /// Options: section <c>Courier:Clients:NAME</c>, then <paramref name="configure"/>.
    /// </summary>
    public static CourierClientBuilder AddCourierClient(this IServiceCollection services, string name, Func<CourierClientOptions, CourierClientOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return AddClient(services, name, $"Courier:Clients:{name}", configure);
    }

    /// <summary>
    /// Registers a <see cref="CourierServer"/> that binds when the host starts and drains when it stops. Map its services
    /// on the returned builder. Options: section <c>Courier:Server</c>, then <paramref name="configure"/>.
    /// </summary>
    public static CourierServerBuilder AddCourierServer(this IServiceCollection services, Func<CourierServerOptions, CourierServerOptions>? configure = null)
        => AddServer(services, "", "Courier:Server", configure);

    /// <summary>Registers a named <see cref="CourierServer"/> (a keyed singleton). Options: section <c>Courier:Servers:NAME</c>, then <paramref name="configure"/>.</summary>
    public static CourierServerBuilder AddCourierServer(this IServiceCollection services, string name, Func<CourierServerOptions, CourierServerOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return AddServer(services, name, $"Courier:Servers:{name}", configure);
    }

    /// <summary>
    /// Registers a <see cref="CourierWorker"/> that connects to its broker when the host starts and drains when it stops.
    /// Map its services on the returned builder. Options: section <c>Courier:Worker</c>, then <paramref name="configure"/>.
    /// </summary>
    public static CourierWorkerBuilder AddCourierWorker(this IServiceCollection services, Func<CourierWorkerOptions, CourierWorkerOptions>? configure = null)
        => AddWorker(services, "", "Courier:Worker", configure);

    /// <summary>Registers a named <see cref="CourierWorker"/> (a keyed singleton). Options: section <c>Courier:Workers:NAME</c>, then <paramref name="configure"/>.</summary>
    public static CourierWorkerBuilder AddCourierWorker(this IServiceCollection services, string name, Func<CourierWorkerOptions, CourierWorkerOptions>? configure = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(name);
        return AddWorker(services, name, $"Courier:Workers:{name}", configure);
    }

    /// <summary>Registers a <see cref="CourierBroker"/> that binds when the host starts and closes when it stops. Options: section <c>Courier:Broker</c>, then <paramref name="configure"/>.</summary>
    public static CourierBrokerBuilder AddCourierBroker(this IServiceCollection services, Func<CourierBrokerOptions, CourierBrokerOptions>? configure = null)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new OptionsRegistration<CourierBrokerOptions>(services, "", "Courier:Broker", new(
            () => CourierBrokerOptions.Default,
            o => o.Validate(),
            (o, provider) => o with { LoggerFactory = HostServices.Logging(o.LoggerFactory, provider), TimeProvider = HostServices.Clock(o.TimeProvider, provider) }));
        var builder = new CourierBrokerBuilder(services, options);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        services.AddSingleton(provider => new CourierBroker(OptionsRegistration<CourierBrokerOptions>.Resolve(provider, "")));
        AddHostedPart(services, "broker", "", provider =>
        {
            var broker = provider.GetRequiredService<CourierBroker>();
            return new PartLifetime(broker.StartAsync, broker.StopAsync, _ => Task.FromResult(HealthProbe.Healthy($"brokering at {broker.Endpoint}")));
        });
        return builder;
    }
#pragma warning restore RS0026

    private static CourierClientBuilder AddClient(IServiceCollection services, string name, string section, Func<CourierClientOptions, CourierClientOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new OptionsRegistration<CourierClientOptions>(services, name, section, new(
            () => CourierClientOptions.Default,
            o => o.Validate(),
            (o, provider) => o with { LoggerFactory = HostServices.Logging(o.LoggerFactory, provider), TimeProvider = HostServices.Clock(o.TimeProvider, provider) }));
        var builder = new CourierClientBuilder(services, options);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        if (name.Length == 0)
        {
            services.AddSingleton(provider => new CourierClient(OptionsRegistration<CourierClientOptions>.Resolve(provider, name)));
            services.AddSingleton<ICourierClient>(provider => provider.GetRequiredService<CourierClient>());
        }
        else
        {
            services.AddKeyedSingleton(name, (provider, _) => new CourierClient(OptionsRegistration<CourierClientOptions>.Resolve(provider, name)));
            services.AddKeyedSingleton<ICourierClient>(name, (provider, key) => provider.GetRequiredKeyedService<CourierClient>(key));
        }

        return builder;
    }

    private static CourierServerBuilder AddServer(IServiceCollection services, string name, string section, Func<CourierServerOptions, CourierServerOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new OptionsRegistration<CourierServerOptions>(services, name, section, new(
            () => CourierServerOptions.Default,
            o => o.Validate(),
            (o, provider) => o with { LoggerFactory = HostServices.Logging(o.LoggerFactory, provider), TimeProvider = HostServices.Clock(o.TimeProvider, provider) }));
        var builder = new CourierServerBuilder(services, options);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        CourierServer Create(IServiceProvider provider)
        {
            var server = new CourierServer(OptionsRegistration<CourierServerOptions>.Resolve(provider, name));
            foreach (var entry in builder.Handlers.Entries)
            {
                server.Map(entry.Service, entry.Create(provider), entry.Mapping.Idempotent);
            }

            return server;
        }

        Func<IServiceProvider, CourierServer> resolve;
        if (name.Length == 0)
        {
            services.AddSingleton(Create);
            resolve = provider => provider.GetRequiredService<CourierServer>();
        }
        else
        {
            services.AddKeyedSingleton(name, (provider, _) => Create(provider));
            resolve = provider => provider.GetRequiredKeyedService<CourierServer>(name);
        }

        AddHostedPart(services, "server", name, provider =>
        {
            var server = resolve(provider);
            return new PartLifetime(server.StartAsync, server.StopAsync, _ => Task.FromResult(HealthProbe.Healthy($"serving at {server.Endpoint}, {server.InFlight} in flight")));
        });
        return builder;
    }

    private static CourierWorkerBuilder AddWorker(IServiceCollection services, string name, string section, Func<CourierWorkerOptions, CourierWorkerOptions>? configure)
    {
        ArgumentNullException.ThrowIfNull(services);
        var options = new OptionsRegistration<CourierWorkerOptions>(services, name, section, new(
            () => CourierWorkerOptions.Default,
            o => o.Validate(),
            (o, provider) => o with { LoggerFactory = HostServices.Logging(o.LoggerFactory, provider), TimeProvider = HostServices.Clock(o.TimeProvider, provider) }));
        var builder = new CourierWorkerBuilder(services, options);
        if (configure is not null)
        {
            builder.Configure(configure);
        }

        CourierWorker Create(IServiceProvider provider)
        {
            var worker = new CourierWorker(OptionsRegistration<CourierWorkerOptions>.Resolve(provider, name));
            foreach (var entry in builder.Handlers.Entries)
            {
                worker.Map(entry.Service, entry.Create(provider), entry.Mapping.Concurrency, entry.Mapping.Idempotent, entry.Mapping.Prefetch);
            }

            return worker;
        }

        Func<IServiceProvider, CourierWorker> resolve;
        if (name.Length == 0)
        {
            services.AddSingleton(Create);
            resolve = provider => provider.GetRequiredService<CourierWorker>();
        }
        else
        {
            services.AddKeyedSingleton(name, (provider, _) => Create(provider));
            resolve = provider => provider.GetRequiredKeyedService<CourierWorker>(name);
        }

        AddHostedPart(services, "worker", name, provider =>
        {
            var worker = resolve(provider);
            var options = OptionsRegistration<CourierWorkerOptions>.Resolve(provider, name);
            var mapped = builder.Handlers.Entries.Select(e => e.Service).ToArray();
            return new PartLifetime(worker.StartAsync, worker.StopAsync, cancellationToken => HealthProbe.BrokerServesAsync(options, mapped, cancellationToken));
        });
        return builder;
    }

    /// <summary>One hosted service per part, found again by its health check under the key <c>PART:NAME</c>.</summary>
    private static void AddHostedPart(IServiceCollection services, string part, string name,
        Func<IServiceProvider, PartLifetime> lifetime)
    {
        var key = HostedPartKey.Of(part, name);
        services.AddKeyedSingleton(key, (provider, _) =>
        {
            var logger = provider.GetService<ILoggerFactory>()?.CreateLogger("Courier.Extensions.Hosting") ?? Logging.Abstractions.NullLogger.Instance;
            return new HostedPart(part, name, lifetime(provider), logger);
        });
        services.AddSingleton<IHostedService>(provider => provider.GetRequiredKeyedService<HostedPart>(key));
    }
}
