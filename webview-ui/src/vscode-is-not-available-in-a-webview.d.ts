// Deliberately not a module: webview-ui/tsconfig.json maps the module name `vscode` here, so an
// `import ... from 'vscode'` in the page fails to compile ("... is not a module"). The page runs in
// a browser; VS Code's API belongs to the extension host (src/extension/). Without the mapping,
// TypeScript would resolve `vscode` to @types/vscode even with "types": [].
