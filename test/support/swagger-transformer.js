// ts-jest wrapper around the Swagger CLI plugin, so tests compile DTOs exactly as `nest build` does.
const plugin = require('@nestjs/swagger/plugin');

const options = { introspectComments: true, classValidatorShim: true };
module.exports.name = 'nestjs-swagger-transformer';
module.exports.version = 1;
module.exports.factory = (compiler) => plugin.before(options, compiler.program);
