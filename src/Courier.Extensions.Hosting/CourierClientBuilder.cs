using Courier.Client;
using Courier.Extensions.Hosting.Internal;
using Microsoft.Extensions.DependencyInjection;

namespace Courier.Extensions.Hosting;

/// <summary>
/// Configures a <see cref="CourierClient"/> registered by <c>AddCourierClient</c>: its options come from the
/// configuration section <see cref="SectionPath"/>, then from each <see cref="Configure(Func{CourierClientOptions, CourierClientOptions})"/>
/// delegate in order; the host's <c>ILoggerFactory</c> (and a registered <see cref="TimeProvider"/>) are used unless
/// set; the result is validated when the host starts.
/// </summary>
public sealed class CourierClientBuilder
{
    private readonly OptionsRegistration<CourierClientOptions> _options;

    internal CourierClientBuilder(IServiceCollection services, OptionsRegistration<CourierClientOptions> options)
    {
        Services = services;
        _options = options;
    }

    /// <summary>The service collection the client is registered in.</summary>
    public IServiceCollection Services { get; }

    /// <summary>The client's name: empty for the default client (resolved as <see cref="ICourierClient"/>), else its service key.</summary>
    public string Name => _options.Name;

    /// <summary>The configuration section bound first: <c>Courier:Client</c>, or <c>Courier:Clients:NAME</c> for a named client.</summary>
    public string SectionPath => _options.SectionPath;

    /// <summary>Binds the options from <paramref name="sectionPath"/> instead of <see cref="SectionPath"/>.</summary>
    public CourierClientBuilder BindConfiguration(string sectionPath)
    {
        ArgumentException.ThrowIfNullOrEmpty(sectionPath);
        _options.SectionPath = sectionPath;
        return this;
    }

    /// <summary>Changes the options: <c>options =&gt; options with { Timeout = TimeSpan.FromSeconds(1) }</c>.</summary>
    public CourierClientBuilder Configure(Func<CourierClientOptions, CourierClientOptions> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _options.Configure((_, options) => configure(options));
        return this;
    }

    /// <summary>Changes the options with services at hand.</summary>
    public CourierClientBuilder Configure(Func<IServiceProvider, CourierClientOptions, CourierClientOptions> configure)
    {
        _options.Configure(configure);
        return this;
    }
}
