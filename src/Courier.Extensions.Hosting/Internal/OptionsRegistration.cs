using System.Reflection;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;

namespace Courier.Extensions.Hosting.Internal;

/// <summary>
/// Holds an immutable options record for the options framework, which wants something to set: the record is rebuilt
/// by each step (<c>with</c>) and the box keeps the latest.
/// </summary>
internal sealed class OptionsBox<T>
    where T : class
{
    public T Value { get; set; } = null!;
}

/// <summary>What differs between the options records: their defaults, their checks, and how DI's logger factory and clock go in.</summary>
internal sealed record OptionsKind<T>(Func<T> Default, Action<T> Validate, Func<T, IServiceProvider, T> FromServices)
    where T : class;

/// <summary>
/// One named options record of a hosted Courier part: the configuration section is bound first (if the host has one
/// and the section exists), then the configure delegates run in order, then DI's <c>ILoggerFactory</c> and
/// <c>TimeProvider</c> fill in what was left at its default; the result is validated when the host starts, with the
/// record's own message.
/// </summary>
internal sealed class OptionsRegistration<T>
    where T : class
{
    private readonly IServiceCollection _services;

    public OptionsRegistration(IServiceCollection services, string name, string sectionPath, OptionsKind<T> kind)
    {
        _services = services;
        Name = name;
        SectionPath = sectionPath;
        services.AddOptions<OptionsBox<T>>(name)
            .Configure<IServiceProvider>((box, provider) => box.Value = Bind(provider, SectionPath, kind))
            .PostConfigure<IServiceProvider>((box, provider) => box.Value = kind.FromServices(box.Value, provider))
            .ValidateOnStart();
        services.AddSingleton<IValidateOptions<OptionsBox<T>>>(new Validator(name, kind.Validate));
    }

    public string Name { get; }

    /// <summary>Read when the options are first needed, so a later <c>BindConfiguration</c> call still counts.</summary>
    public string SectionPath { get; set; }

    public void Configure(Func<IServiceProvider, T, T> configure)
    {
        ArgumentNullException.ThrowIfNull(configure);
        _services.AddOptions<OptionsBox<T>>(Name).Configure<IServiceProvider>((box, provider) =>
            box.Value = configure(provider, box.Value) ?? throw new InvalidOperationException($"A configure delegate of {typeof(T).Name} returned null; return the options (options with {{ … }})."));
    }

    public static T Resolve(IServiceProvider provider, string name) => provider.GetRequiredService<IOptionsMonitor<OptionsBox<T>>>().Get(name).Value;

    private static T Bind(IServiceProvider provider, string sectionPath, OptionsKind<T> kind)
    {
        var section = provider.GetService<IConfiguration>()?.GetSection(sectionPath);
        if (section is null || !section.Exists())
        {
            return kind.Default();
        }

        if (FirstValueForSection(section, typeof(T)) is { } misplaced)
        {
            throw new OptionsValidationException(sectionPath, typeof(T), [
                $"{typeof(T).Name}: '{misplaced}' in the configuration is a section of settings (or a list), not one value; the host does not start with it"]);
        }

        try
        {
            // A fresh instance, never the Default: the binder sets properties in place. An unknown key is an error: a
            // misspelt "Securty" or "CertFile" would otherwise leave security off without a word.
            return section.Get<T>(binder => binder.ErrorOnUnknownConfiguration = true) ?? kind.Default();
        }
        catch (InvalidOperationException ex)
        {
            var key = FirstUnknown(section, typeof(T));
            throw new OptionsValidationException(sectionPath, typeof(T), [key is null
                ? $"{sectionPath}: {ex.Message}"
                : $"{typeof(T).Name}: '{key}' in the configuration is not a setting (misspelt?); the host does not start with it"]);
        }
    }

    /// <summary>
    /// The path of the first key under <paramref name="section"/> given one value where its property is a section of
    /// settings or a list of a class type: the binder skips such a value without a word, so
    /// <c>Courier__Server__Security=/keys/x</c> would leave security off.
    /// </summary>
    private static string? FirstValueForSection(IConfigurationSection section, Type type)
    {
        foreach (var child in section.GetChildren())
        {
            if (type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase) is not { } property)
            {
                continue; // unknown keys are the binder's error, named by FirstUnknown
            }

            var nested = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (!nested.IsClass || nested == typeof(string))
            {
                continue;
            }

            if (child.Value is not null)
            {
                return child.Path;
            }

            if (!typeof(System.Collections.IEnumerable).IsAssignableFrom(nested) && FirstValueForSection(child, nested) is { } deeper)
            {
                return deeper;
            }
        }

        return null;
    }

    /// <summary>The path of the first key under <paramref name="section"/> that names no property of <paramref name="type"/> (or of a nested options type).</summary>
    private static string? FirstUnknown(IConfigurationSection section, Type type)
    {
        foreach (var child in section.GetChildren())
        {
            var property = type.GetProperty(child.Key, BindingFlags.Public | BindingFlags.Instance | BindingFlags.IgnoreCase);
            if (property is null)
            {
                return child.Path;
            }

            var nested = Nullable.GetUnderlyingType(property.PropertyType) ?? property.PropertyType;
            if (child.Value is null && nested.IsClass && nested != typeof(string) && !typeof(System.Collections.IEnumerable).IsAssignableFrom(nested)
                && FirstUnknown(child, nested) is { } deeper)
            {
                return deeper;
            }
        }

        return null;
    }

    private sealed class Validator(string name, Action<T> validate) : IValidateOptions<OptionsBox<T>>
    {
        public ValidateOptionsResult Validate(string? optionsName, OptionsBox<T> options)
        {
            if (optionsName != name)
            {
                return ValidateOptionsResult.Skip;
            }

            try
            {
                validate(options.Value);
                return ValidateOptionsResult.Success;
            }
            catch (ArgumentException ex)
            {
                return ValidateOptionsResult.Fail(ex.Message);
            }
        }
    }
}
